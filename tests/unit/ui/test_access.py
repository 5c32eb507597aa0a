"""Access and robustness: the app answers only for the models a viewer may read, and broken config files
are listed with their problem instead of failing a page."""

from __future__ import annotations

import html
from collections.abc import Collection
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from health_seed import Seeded
from watchkeeper.ui.access import ACCESS_SCOPE_KEY
from watchkeeper.ui.app import create_app


class Only:
    """A viewer who may read some models (or nothing at all)."""

    def __init__(self, models: Collection[str], *, may_list: bool = True) -> None:
        self.models = set(models)
        self._may_list = may_list
        self.who = "user 'bob'"
        self.hint = "ask for read access to the model's DAGs"

    def may_list(self) -> bool:
        return self._may_list

    def readable(self, models: Collection[str]) -> set[str]:
        return set(models) & self.models


def client_as(app: FastAPI, access: Any) -> TestClient:
    """The app behind a layer that sets the request's access, like the Airflow plugin does."""

    async def with_access(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope[ACCESS_SCOPE_KEY] = access
        await app(scope, receive, send)

    return TestClient(with_access)


@pytest.fixture
def app(seeded: Seeded) -> FastAPI:
    return create_app(store=seeded.store, config_dir=seeded.config_dir)


def test_a_viewer_sees_only_the_models_they_may_read(app: FastAPI) -> None:
    client = client_as(app, Only({"fraud", "legacy"}))
    assert [m["model"] for m in client.get("/api/models").json()["models"]] == ["fraud", "legacy"]
    overview = client.get("/").text
    assert 'href="models/fraud"' in overview and "healthy" not in overview and "newbie" not in overview
    assert client.get("/models/fraud").status_code == 200
    assert client.get("/api/models/fraud/metrics").json()["count"] > 0
    for path in (
        "/models/healthy",
        "/models/healthy/report",
        "/api/models/healthy/metrics",
        "/api/models/healthy/windows/latest",
        "/api/models/healthy/alerts",
        "/api/models/healthy/retraining",
    ):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "may not read model" in html.unescape(response.text) and "'healthy' -- ask for" in html.unescape(
            response.text
        )
    assert client.get("/api/models/healthy/metrics").json() == {
        "detail": "Forbidden: user 'bob' may not read model 'healthy' -- ask for read access to the model's DAGs"
    }
    # access is checked before existence: nothing is learnt about models one may not read
    assert client.get("/api/models/nope/metrics").status_code == 403


def test_a_viewer_without_any_access_gets_403(app: FastAPI) -> None:
    client = client_as(app, Only(set(), may_list=False))
    for path in ("/", "/api/models", "/models/fraud", "/api/models/fraud/metrics"):
        assert client.get(path).status_code == 403, path
    assert "may not list models" in client.get("/api/models").json()["detail"]


def test_a_viewer_who_may_list_but_read_nothing_gets_an_empty_list(app: FastAPI) -> None:
    client = client_as(app, Only(set()))
    assert client.get("/api/models").json() == {"models": [], "invalid_configs": {}}


def test_the_404_page_lists_only_readable_models(app: FastAPI) -> None:
    client = client_as(app, Only({"fraud", "nope"}))
    response = client.get("/models/nope")
    assert response.status_code == 404 and "fraud" in response.text and "healthy" not in response.text
    assert client.get("/api/models/nope/alerts").json()["known_models"] == ["fraud"]


def test_broken_configs_are_listed_never_a_500(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = seeded.config_dir
    (folder / "latin1.yaml").write_bytes("name: caf\xe9\nowner: x\n".encode("latin-1"))
    (folder / "syntax.yaml").write_text("name: [unclosed\n")
    (folder / "crash.yaml").write_text("name: crash\n")
    # the same model name in two files: both are listed, naming each other
    (folder / "fraud.yml").write_text((folder / "fraud.yaml").read_text())
    import watchkeeper.config as config_module

    real = config_module.load_config

    def load_config(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith("crash.yaml"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(config_module, "load_config", load_config)
    client = TestClient(create_app(store=seeded.store, config_dir=folder))
    for path in ("/", "/models/fraud", "/models/healthy", "/api/models", "/api/models/fraud/metrics"):
        assert client.get(path).status_code == 200, path
    invalid = client.get("/api/models").json()["invalid_configs"]
    by_name = {k.rsplit("/", 1)[-1]: v for k, v in invalid.items()}
    assert set(by_name) == {"latin1.yaml", "syntax.yaml", "crash.yaml", "fraud.yaml", "fraud.yml"}
    assert "not valid UTF-8" in by_name["latin1.yaml"] and "save the file as UTF-8" in by_name["latin1.yaml"]
    assert "RecursionError" in by_name["crash.yaml"]
    assert "fraud.yml" in by_name["fraud.yaml"] and "fraud.yaml" in by_name["fraud.yml"]
    assert "also defined in" in by_name["fraud.yml"]
    overview = client.get("/").text
    assert "Invalid configs (5)" in overview and "not valid UTF-8" in overview
    # the stored data of a model whose config is broken stays visible
    fraud = next(m for m in client.get("/api/models").json()["models"] if m["model"] == "fraud")
    assert fraud["configured"] is False and fraud["status"] == "critical"


def test_broken_configs_are_shown_only_to_who_may_read_that_model(seeded: Seeded) -> None:
    (seeded.config_dir / "secret_model.yaml").write_text("name: [unclosed\n")
    app = create_app(store=seeded.store, config_dir=seeded.config_dir)
    assert client_as(app, Only({"fraud"})).get("/api/models").json()["invalid_configs"] == {}
    seen = client_as(app, Only({"secret_model"})).get("/api/models").json()["invalid_configs"]
    assert [k.rsplit("/", 1)[-1] for k in seen] == ["secret_model.yaml"]
