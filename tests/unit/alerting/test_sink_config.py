"""``alerts.sinks`` in YAML: every kind parses, bad input names the file, the field and the fix, the registry and the
schema agree, and adding a sink is adding one file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import minimal_config
from watchkeeper.alerting import sinks
from watchkeeper.config import parse_config
from watchkeeper.config.alerts import AlertSettings
from watchkeeper.exceptions import ConfigError

BASE: dict[str, Any] = minimal_config()


def problems(tmp_path: Path, alerts: dict[str, Any]) -> list[str]:
    path = tmp_path / "fraud.yaml"
    with pytest.raises(ConfigError) as err:
        parse_config(path, yaml.safe_dump({**BASE, "alerts": alerts}))
    return err.value.problems


def test_every_registered_sink_parses_from_yaml(tmp_path: Path) -> None:
    entries = [
        {"kind": "slack", "channel": "#fraud-ml"},
        {"kind": "slack_webhook", "conn_id": "fraud_hook"},
        {"kind": "email", "to": ["ml@example.com"], "min_severity": "critical"},
        {"kind": "pagerduty", "conn_id": "pagerduty_fraud", "min_severity": "critical"},
        {"kind": "teams", "conn_id": "teams_fraud"},
        {"kind": "webhook", "url_env": "FRAUD_HOOK_URL", "secret_env": "FRAUD_HOOK_SECRET"},
        {"kind": "log"},
    ]
    config = parse_config(tmp_path / "fraud.yaml", yaml.safe_dump({**BASE, "alerts": {"sinks": entries}}))
    configured = config.model.alerts.sinks
    assert configured is not None
    assert [s.kind for s in configured] == sorted(sinks.kinds(), key=[e["kind"] for e in entries].index)
    assert [s.key for s in configured] == [
        "slack:#fraud-ml",
        "slack_webhook:fraud_hook",
        "email:ml@example.com",
        "pagerduty:pagerduty_fraud",
        "teams:teams_fraud",
        "webhook:FRAUD_HOOK_URL",
        "log",
    ]
    assert configured[2].min_severity == "critical" and configured[0].min_severity == "warning"


def test_the_old_channel_form_keeps_working(tmp_path: Path) -> None:
    config = parse_config(
        tmp_path / "fraud.yaml", yaml.safe_dump({**BASE, "alerts": {"channel": "#fraud", "slack_conn_id": "slack_x"}})
    )
    assert config.model.alerts.sinks is None and config.model.alerts.channel == "#fraud"


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        (
            {"sinks": [{"kind": "pagerdutty", "conn_id": "x"}]},
            "alerts.sinks: sinks[0]: kind 'pagerdutty' is not a sink -- did you mean 'pagerduty'?",
        ),
        ({"sinks": [{"conn_id": "x"}]}, "alerts.sinks: sinks[0]: has no kind -- use one of email, log, pagerduty"),
        (
            {"sinks": [{"kind": "email", "to": ["ml@example"]}]},
            "'ml@example' is not an e-mail address -- write it as name@example.com",
        ),
        ({"sinks": [{"kind": "email", "to": []}]}, "alerts.sinks.0.email.to"),
        (
            {"sinks": [{"kind": "pagerduty", "routing_key": "R0123"}]},
            "unknown key 'routing_key' -- did you mean 'routing_key_env'?",
        ),
        ({"sinks": [{"kind": "pagerduty"}]}, "exactly one of conn_id (an Airflow connection) or routing_key_env"),
        (
            {"sinks": [{"kind": "teams"}]},
            "give the webhook URL through exactly one of conn_id or url_env -- never in the YAML",
        ),
        ({"sinks": [{"kind": "webhook", "url": "https://x"}]}, "unknown key 'url'"),
        (
            {"sinks": [{"kind": "slack"}, {"kind": "slack"}]},
            "sinks[1] and sinks[0] are both 'slack' -- give one of them a distinct name",
        ),
        ({"sinks": []}, "sinks is empty -- list at least one sink"),
        ({"slack_conn_id": "s", "sinks": [{"kind": "log"}]}, "slack_conn_id applies to the default sink only"),
    ],
)
def test_bad_sinks_name_the_file_the_field_and_the_fix(tmp_path: Path, alerts: dict[str, Any], expected: str) -> None:
    found = problems(tmp_path, alerts)
    assert len(found) == 1 and found[0].startswith(f"{tmp_path / 'fraud.yaml'}: alerts"), found
    assert expected in found[0]
    assert "R0123" not in found[0]  # a secret written in the YAML is never echoed


def test_the_schema_documents_every_sink() -> None:
    schema = AlertSettings.model_json_schema()
    documented = {name.removesuffix("Config").lower() for name in schema["$defs"] if name.endswith("Config")}
    assert {k.replace("_", "") for k in sinks.kinds()} <= documented
    for kind in sinks.kinds():
        config = sinks.REGISTRY[kind].config
        for name, field in config.model_fields.items():
            assert field.description, f"{kind}.{name} has no description"


def test_adding_a_sink_is_adding_one_file(tmp_path: Path) -> None:
    """A new module in the sinks package is registered and becomes a valid ``kind`` of ``alerts.sinks``."""
    package = Path(sinks.__file__).parent
    module = package / "zz_test_echo.py"
    module.write_text(
        '"""A sink for this test only."""\n'
        "from typing import Any, Literal\n"
        "from watchkeeper.alerting.sinks.base import Delivered, SendContext, Sink, SinkConfig\n\n\n"
        "class EchoConfig(SinkConfig):\n"
        '    """Echo."""\n\n'
        '    kind: Literal["echo"] = "echo"\n\n\n'
        "class EchoSink(Sink):\n"
        '    kind = "echo"\n'
        "    config = EchoConfig\n\n"
        "    @classmethod\n"
        "    def from_config(cls, config: Any, *, model: str, default_channel: str | None) -> 'EchoSink':\n"
        "        return cls()\n\n"
        "    def send(self, notice: Any, ctx: SendContext) -> Delivered:\n"
        "        return Delivered(ts=None, channel=None)\n"
    )
    try:
        code = (
            "import yaml, sys\n"
            "from pathlib import Path\n"
            "from watchkeeper.config import parse_config\n"
            f"data = {BASE!r}\n"
            "data['alerts'] = {'sinks': [{'kind': 'echo'}]}\n"
            f"config = parse_config(Path({str(tmp_path / 'fraud.yaml')!r}), yaml.safe_dump(data))\n"
            "print(config.model.alerts.sinks[0].key)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "echo"
    finally:
        module.unlink()
