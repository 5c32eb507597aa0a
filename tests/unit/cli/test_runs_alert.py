"""``watchkeeper check --alert``: the DAG's alerts through the same dispatch -- the real slack-sdk client against the
local Slack server (tests/integration/slack_server.py), or the log + JSONL sink without a token."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

from integration.slack_server import TOKEN, SlackServer
from support import TinyModel, make_rows
from watchkeeper.cli import main
from watchkeeper.reporting import read_alerts
from watchkeeper.results import Window
from watchkeeper.store import MetricStore

DAY = ("--start", "2026-10-01", "--end", "2026-10-02")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def server() -> Iterator[SlackServer]:
    fake = SlackServer().start()
    yield fake
    fake.stop()


@pytest.fixture
def slack(server: SlackServer, monkeypatch: pytest.MonkeyPatch) -> SlackServer:
    server.reset()
    for name in ("WATCHKEEPER_SLACK_WEBHOOK_URL", "WATCHKEEPER_ALERT_SINK", "WATCHKEEPER_SLACK_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_API_DEFAULT", raising=False)
    monkeypatch.setenv("WATCHKEEPER_SLACK_TOKEN", TOKEN)
    monkeypatch.setenv("WATCHKEEPER_SLACK_API_URL", server.url)
    monkeypatch.setenv("WATCHKEEPER_SLACK_TIMEOUT", "0.5")
    for name in ("watchkeeper.alerting.sinks", "watchkeeper.alerting.sinks.slack", "watchkeeper.alerting.sinks.http"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "RETRY_BACKOFF_S"):  # keep it fast; the retry logic is slack-sdk's
            monkeypatch.setattr(module, "RETRY_BACKOFF_S", 0.05)
    return server


@pytest.fixture
def faulty(tiny: TinyModel) -> TinyModel:
    tiny.edit(lambda d: d.update(alerts={"channel": "#ml-alerts", "mentions": ["@here"]}))
    df = make_rows(1000, "2026-10-01", seed=2)
    df["amount"] = df["amount"] * 3  # drift
    tiny.write_log(df)
    return tiny


def test_alert_posts_the_dags_message_once(
    faulty: TinyModel, slack: SlackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "check", "tiny", *DAY, "--alert")
    assert code == 0 and "error:" not in err
    assert "alerts: 1 sent via slack" in out
    (message,) = slack.top_level()
    assert message.channel == "C0ALERTS" and message.via == "api"
    assert "tiny" in message.text and "amount" in message.text
    assert message.blocks  # Block Kit, as the DAG posts it
    assert any(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in slack.requests)
    # the same window again: the alert is ongoing, within its cooldown -- nothing new is posted
    assert run(capsys, "check", "tiny", *DAY, "--alert")[0] == 0
    assert len(slack.messages) == 1
    # without --alert nothing is sent
    assert run(capsys, "check", "tiny", *DAY)[0] == 0 and len(slack.requests) >= 1 and len(slack.messages) == 1


def test_undelivered_alert_exits_1_after_recording(
    faulty: TinyModel, slack: SlackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.down = "server_error"
    code, out, err = run(capsys, "check", "tiny", *DAY, "--alert")
    assert code == 1
    assert "error: model tiny: 1 alert notification(s) not delivered yet" in err
    assert TOKEN not in err and TOKEN not in out
    assert MetricStore().run("tiny", Window.parse(*DAY[1::2])) is not None  # recorded before failing
    assert [a["status"] for a in read_alerts() if "window" in a] == ["critical"]
    pending = MetricStore().notifications("tiny", status="pending")
    assert len(pending) == 1  # kept in the outbox: a later run (or the DAG) delivers it after its backoff


def test_without_a_token_alerts_go_to_the_log_sink(
    faulty: TinyModel, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("WATCHKEEPER_SLACK_TOKEN", "WATCHKEEPER_SLACK_WEBHOOK_URL", "AIRFLOW_CONN_SLACK_API_DEFAULT"):
        monkeypatch.delenv(name, raising=False)
    code, out, _ = run(capsys, "check", "tiny", *DAY, "--alert")
    assert code == 0 and "alerts: 1 sent via log" in out
    notes = [a for a in read_alerts() if a.get("record") == "notification"]
    assert len(notes) == 1 and notes[0]["model"] == "tiny" and "amount" in notes[0]["text"]
