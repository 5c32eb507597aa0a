"""Every sink against a local server that speaks its protocol (tests/integration/sink_servers.py, slack_server.py):
Slack (slack-sdk), e-mail (aiosmtpd), PagerDuty Events v2, Teams webhook, the signed generic webhook.

Covers the format of each (and that data it does not control is escaped in that format), the PagerDuty
lifecycle, per-sink severity floors, exactly-once per sink (a retried task, an outage over several runs, one
sink down while the others are up), a permanent 4xx, and e-mail threading.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import alert_runs
import pytest
from alert_runs import at, fraud_config, strings_in
from sink_servers import PAGERDUTY_KEY, WEBHOOK_SECRET, PagerDutyServer, SmtpServer, TeamsServer, WebhookServer
from slack_sdk.models.blocks import Block
from slack_server import TOKEN, SlackServer

from watchkeeper.alerting.sinks import http as http_module
from watchkeeper.alerting.sinks import slack as slack_module
from watchkeeper.config import LoadedConfig
from watchkeeper.exceptions import AlertDeliveryError
from watchkeeper.results import CheckResult, Status
from watchkeeper.store import MetricStore

REPORT = "http://airflow.example/watchkeeper/models/fraud/report?start=2026-10-01"
#: A category value / column name that must never act as markup in any sink.
HOSTILE = "<!channel> <script>x</script> [click](http://evil.example) **b** & _i_"


def critical(subject: str = "amount", value: float = 0.4) -> CheckResult:
    return CheckResult(
        "drift", "psi", subject, value, 0.1, Status.CRITICAL, f"{subject}: psi {value}", {"critical": 0.25}
    )


def warning(subject: str = "amount") -> CheckResult:
    return CheckResult("quality", "missing_share", subject, 0.1, 0.05, Status.WARNING, f"{subject} missing 10%", {})


def fine(check: str = "drift", metric: str = "psi", subject: str = "amount") -> CheckResult:
    return CheckResult(check, metric, subject, 0.01, 0.1, Status.OK, "fine", {})


@dataclass
class Servers:
    slack: SlackServer
    smtp: SmtpServer
    pagerduty: PagerDutyServer
    teams: TeamsServer
    hook: WebhookServer


@pytest.fixture(scope="module")
def running() -> Iterator[Servers]:
    servers = Servers(
        SlackServer().start(),
        SmtpServer().start(),
        PagerDutyServer().start(),
        TeamsServer().start(),
        WebhookServer().start(),
    )
    yield servers
    servers.slack.stop()
    servers.smtp.stop()
    for server in (servers.pagerduty, servers.teams, servers.hook):
        server.stop()


@pytest.fixture
def servers(running: Servers, monkeypatch: pytest.MonkeyPatch) -> Servers:
    """Every server reset; credentials in environment variables and AIRFLOW_CONN_* connections."""
    running.slack.reset()
    running.smtp.messages.clear()
    running.smtp.envelopes.clear()
    for server in (running.pagerduty, running.teams, running.hook):
        server.reset()
    running.pagerduty.open.clear()
    running.pagerduty.resolved.clear()
    running.pagerduty.keys = {PAGERDUTY_KEY}
    for name in ("WATCHKEEPER_SLACK_WEBHOOK_URL", "WATCHKEEPER_ALERT_SINK", "WATCHKEEPER_SLACK_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WATCHKEEPER_SLACK_TOKEN", TOKEN)
    monkeypatch.setenv("WATCHKEEPER_SLACK_API_URL", running.slack.url)
    monkeypatch.setenv("WATCHKEEPER_SLACK_TIMEOUT", "2")
    smtp = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": running.smtp.port,
        "extra": {"from_email": "watchkeeper@example.com", "disable_ssl": True, "disable_tls": True, "timeout": 5},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_TEST", json.dumps(smtp))
    pagerduty = {"conn_type": "pagerduty_events", "password": PAGERDUTY_KEY, "host": running.pagerduty.base}
    monkeypatch.setenv("AIRFLOW_CONN_PD_TEST", json.dumps(pagerduty))
    monkeypatch.setenv("TEAMS_URL", running.teams.url)
    monkeypatch.setenv("HOOK_URL", running.hook.url)
    monkeypatch.setenv("HOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setattr(slack_module, "RETRY_BACKOFF_S", 0.01)
    monkeypatch.setattr(http_module, "RETRY_BACKOFF_S", 0.01)
    monkeypatch.setattr(http_module, "MAX_RETRY_AFTER_S", 0.05)
    return running


ALL_SINKS: list[dict[str, Any]] = [
    {"kind": "slack", "channel": "#ml-alerts"},
    {"kind": "email", "to": ["ml-team@example.com"], "cc": ["risk@example.com"], "conn_id": "smtp_test"},
    {"kind": "pagerduty", "conn_id": "pd_test", "min_severity": "critical"},
    {"kind": "teams", "url_env": "TEAMS_URL"},
    {"kind": "webhook", "url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"},
]


def model_config(tmp: Path, sinks: list[dict[str, Any]] | None = None, **alerts: Any) -> LoadedConfig:
    return fraud_config(tmp, {"sinks": ALL_SINKS if sinks is None else sinks, "cooldown": "7d", **alerts})


def run(config: LoadedConfig, store: MetricStore, day: int, results: list[CheckResult], **kw: Any) -> dict[str, Any]:
    """One window's dispatch, with the report link."""
    return alert_runs.run(config, store, day, results, report_url=REPORT, **kw)


def _parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    return plain.get_content(), rich.get_content()


# -- formats -------------------------------------------------------------------------------------------


def test_every_sink_delivers_the_alert_in_its_own_format_with_data_escaped(
    servers: Servers, store: MetricStore, tmp_path: Path
) -> None:
    summary = run(model_config(tmp_path), store, 0, [critical(HOSTILE), warning()])
    assert (summary["sent"], summary["pending"], summary["errors"]) == (5, 0, [])
    assert summary["sink"] == "slack,email,pagerduty,teams,webhook"
    # Slack: valid Block Kit, nothing pings
    (posted,) = servers.slack.messages
    for block in posted.blocks or []:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
    sent = "\n".join(strings_in(servers.slack.requests[0].body))
    assert "<!channel>" not in sent and "&lt;!channel&gt;" in sent and "<script>" not in sent
    # e-mail: a plain-text part and an HTML part with the findings table, data HTML-escaped, one-line subject
    (mail,) = servers.smtp.messages
    assert servers.smtp.envelopes[0] == ("watchkeeper@example.com", ["ml-team@example.com", "risk@example.com"])
    assert mail["Subject"].startswith("[Watchkeeper] fraud: CRITICAL — 2 alerts in window 2026-10-01")
    plain, rich = _parts(mail)
    assert "drift[" in plain and "psi 0.4 · baseline — · threshold 0.25" in plain and REPORT in plain
    assert "<table" in rich and "<th" in rich and f'href="{REPORT}"' in rich
    assert "<script>" not in rich and "&lt;script&gt;x&lt;/script&gt;" in rich
    assert "0.25" in rich and "missing_share" in rich
    # PagerDuty: only the critical key (floor: critical), dedup key = the alert key, severity mapped
    (event,) = servers.pagerduty.events()
    assert event["event_action"] == "trigger" and event["routing_key"] == PAGERDUTY_KEY
    assert event["dedup_key"] == f"watchkeeper/fraud/drift[{HOSTILE}]"
    assert event["payload"]["severity"] == "critical" and event["payload"]["component"] == "fraud"
    assert event["payload"]["custom_details"]["findings"][0]["threshold"] == 0.25
    assert {"href": REPORT, "text": "Report"} in event["links"]
    # Teams: an Adaptive Card; the data is Markdown-escaped so nothing becomes a link or bold
    (card,) = servers.teams.cards()
    texts = "\n".join(strings_in(card["body"]))
    assert "[click](http://evil.example)" not in texts and r"\[click\]\(http://evil\.example\)" in texts
    assert "**b**" not in texts and r"\*\*b\*\*" in texts
    assert {"type": "Action.OpenUrl", "title": "Report", "url": REPORT} in card["actions"]
    # the generic webhook: signed (the server verified it), the structured notice as JSON
    (hook,) = servers.hook.accepted()
    data = hook.body
    assert data["notice"]["version"] == 2 and data["notice"]["kind"] == "alert"
    assert [a["label"] for a in data["notice"]["alerts"]] == [f"drift[{HOSTILE}]", "quality[amount]"]
    assert hook.headers["Idempotency-Key"] == data["id"] and data["text"].startswith("fraud: CRITICAL")
    # one outbox row, one delivery per sink
    (row,) = store.notifications("fraud")
    assert row.status == "sent" and row.sinks == [
        "slack:#ml-alerts",
        "email:ml-team@example.com",
        "pagerduty:pd_test",
        "teams:TEAMS_URL",
        "webhook:HOOK_URL",
    ]


def test_a_forged_webhook_signature_is_rejected_by_the_receiver(servers: Servers) -> None:
    from watchkeeper.alerting.sinks.webhook import sign, verify

    body = b'{"id": "x"}'
    good = sign(WEBHOOK_SECRET, "1790000000", body)
    assert verify(WEBHOOK_SECRET, "1790000000", body, good, max_age_s=1e12)
    assert not verify(WEBHOOK_SECRET, "1790000000", body + b" ", good, max_age_s=1e12)  # body changed
    assert not verify("other-secret", "1790000000", body, good, max_age_s=1e12)
    assert not verify(WEBHOOK_SECRET, "1790000000", body, good)  # stale timestamp: a replay


# -- PagerDuty lifecycle ----------------------------------------------------------------------------------


def test_pagerduty_triggers_new_and_escalated_and_resolves_recovered(
    servers: Servers, store: MetricStore, tmp_path: Path
) -> None:
    config = model_config(tmp_path, [{"kind": "pagerduty", "conn_id": "pd_test"}], cooldown="1d")
    pd = servers.pagerduty
    run(config, store, 0, [warning()])  # new warning: trigger (floor warning)
    run(config, store, 1, [warning()])  # ongoing (a reminder after the cooldown): nothing to PagerDuty
    run(config, store, 2, [CheckResult("quality", "missing_share", "amount", 0.5, 0.05, Status.CRITICAL, "worse", {})])
    run(config, store, 3, [fine("quality", "missing_share")])  # recovered: resolve
    actions = [(e["event_action"], e["dedup_key"], e.get("payload", {}).get("severity")) for e in pd.events()]
    assert actions == [
        ("trigger", "watchkeeper/fraud/quality[amount]", "warning"),
        ("trigger", "watchkeeper/fraud/quality[amount]", "critical"),
        ("resolve", "watchkeeper/fraud/quality[amount]", None),
    ]
    assert pd.open == {} and pd.resolved == ["watchkeeper/fraud/quality[amount]"]
    kinds = [(n.kind, n.sinks, n.status) for n in store.notifications("fraud")]
    assert kinds == [
        ("alert", ["pagerduty:pd_test"], "sent"),
        ("reminder", [], "skipped"),  # PagerDuty has nothing to say about reminders: no delivery at all
        ("alert", ["pagerduty:pd_test"], "sent"),
        ("recovered", ["pagerduty:pd_test"], "sent"),
    ]


def test_each_sink_has_its_own_severity_floor(servers: Servers, store: MetricStore, tmp_path: Path) -> None:
    sinks = [
        {"kind": "slack", "channel": "#ml-alerts"},
        {"kind": "pagerduty", "conn_id": "pd_test", "min_severity": "critical"},
        {"kind": "email", "to": ["oncall@example.com"], "conn_id": "smtp_test", "min_severity": "critical"},
    ]
    config = model_config(tmp_path, sinks)
    run(config, store, 0, [warning()])
    assert len(servers.slack.messages) == 1 and servers.pagerduty.requests == [] and servers.smtp.messages == []
    run(config, store, 1, [warning(), critical()])  # a new critical: everyone
    assert len(servers.slack.messages) == 2 and len(servers.pagerduty.events()) == 1 and len(servers.smtp.messages) == 1
    # the critical recovers: Slack and e-mail hear about it (reply / Re:), PagerDuty resolves it
    run(config, store, 2, [warning(), fine()])
    assert [e["event_action"] for e in servers.pagerduty.events()] == ["trigger", "resolve"]
    assert servers.smtp.messages[-1]["Subject"].startswith("Re: [Watchkeeper] fraud: recovered")
    assert servers.smtp.messages[-1]["In-Reply-To"] == servers.smtp.messages[0]["Message-ID"]
    assert servers.slack.thread(servers.slack.messages[1].ts)[0].text.startswith("fraud recovered")


# -- exactly once, per sink -------------------------------------------------------------------------------


def test_a_retried_task_after_a_successful_send_sends_nothing_again_anywhere(
    servers: Servers, store: MetricStore, tmp_path: Path
) -> None:
    config = model_config(tmp_path)
    for attempt in range(3):
        run(config, store, 0, [critical(), warning()], now=at(0) + timedelta(minutes=attempt))
    assert len(servers.slack.messages) == 1 and len(servers.smtp.messages) == 1
    assert len(servers.pagerduty.requests) == 1 and len(servers.teams.requests) == 1 and len(servers.hook.requests) == 1


def test_one_sink_down_never_holds_back_the_others_and_catches_up_later(
    servers: Servers, store: MetricStore, tmp_path: Path
) -> None:
    config = model_config(tmp_path)
    pd = servers.pagerduty
    with pd.outage("server_error"):
        for day, results in enumerate(
            [[critical("a")], [critical("a"), critical("b")], [fine(subject="a"), critical("b")]]
        ):
            with pytest.raises(
                AlertDeliveryError,
                match=r"sink pagerduty:pd_test: PagerDuty \(Airflow connection 'pd_test'\) did not accept",
            ):
                run(config, store, day, results)
            # everyone else got this run's message at once
            assert len(servers.slack.top_level()) == min(day + 1, 2) and len(servers.hook.accepted()) == day + 1
        assert pd.events() == []
        assert len(pd.requests) == 3 * 3  # one send (with 2 retries) per run: the outage stops PagerDuty's walk only
    summary = run(config, store, 2, [fine(subject="a"), critical("b")], now=at(2) + timedelta(hours=1))
    assert summary["errors"] == [] and summary["notifications"] == 0
    assert [(e["event_action"], e["dedup_key"]) for e in pd.events()] == [
        ("trigger", "watchkeeper/fraud/drift[a]"),
        ("trigger", "watchkeeper/fraud/drift[b]"),
        ("resolve", "watchkeeper/fraud/drift[a]"),
    ]
    assert [n.status for n in store.notifications("fraud")] == ["sent", "sent", "sent"]
    run(config, store, 3, [fine(subject="a"), critical("b")])
    assert len(pd.events()) == 3 and len(servers.hook.accepted()) == 3  # nothing twice


def test_an_smtp_outage_over_several_runs_delivers_each_mail_once_in_order(
    servers: Servers, store: MetricStore, tmp_path: Path
) -> None:
    config = model_config(tmp_path, [{"kind": "email", "to": ["ml@example.com"], "conn_id": "smtp_test"}])
    servers.smtp.stop()
    try:
        for day, results in enumerate([[critical("a")], [critical("a"), critical("b")]]):
            with pytest.raises(AlertDeliveryError, match="cannot reach the SMTP server 127.0.0.1"):
                run(config, store, day, results)
    finally:
        servers.smtp.start()
    run(config, store, 1, [critical("a"), critical("b")], now=at(1) + timedelta(hours=1))
    subjects = [m["Subject"] for m in servers.smtp.messages]
    assert len(subjects) == 2 and "1 alert in window 2026-10-01" in subjects[0] and "2026-10-02" in subjects[1]


# -- bad input ------------------------------------------------------------------------------------------------


def test_a_revoked_pagerduty_key_is_a_clear_error_kept_and_reported_others_unaffected(
    servers: Servers, store: MetricStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = model_config(tmp_path)
    servers.pagerduty.keys = set()  # the integration was deleted: PagerDuty answers 400 "Invalid routing key"
    with pytest.raises(AlertDeliveryError) as err:
        run(config, store, 0, [critical()])
    text = str(err.value)
    assert "sink pagerduty:pd_test: PagerDuty answered HTTP 400 (Invalid routing key) for model fraud" in text
    assert (
        "the integration key is invalid or revoked: put a valid Events API v2 integration key in the Airflow " in text
    )
    assert PAGERDUTY_KEY not in text
    assert len(servers.pagerduty.requests) == 1  # a 4xx is not retried within the send
    assert len(servers.slack.messages) == 1 and len(servers.smtp.messages) == 1 and len(servers.teams.cards()) == 1
    (row,) = store.notifications("fraud")
    assert row.status == "pending" and "Invalid routing key" in (row.last_error or "")
    summary = err.value.summary
    assert summary["sinks"]["pagerduty:pd_test"]["failed"] == 1 and summary["sinks"]["slack:#ml-alerts"]["sent"] == 1
    # the key is fixed: the next run delivers the kept notification, once, and nothing else again
    servers.pagerduty.keys = {PAGERDUTY_KEY}
    run(config, store, 1, [critical()], now=at(1))
    assert [e["event_action"] for e in servers.pagerduty.events()] == ["trigger"]
    assert len(servers.slack.messages) == 1 and store.notifications("fraud")[0].status == "sent"


def test_a_deleted_teams_webhook_names_the_fix(
    servers: Servers, store: MetricStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMS_URL", servers.teams.base + "/webhookb2/deleted")
    with pytest.raises(
        AlertDeliveryError, match=r"sink teams:TEAMS_URL: the Teams webhook from the \$TEAMS_URL answered HTTP 404"
    ):
        run(model_config(tmp_path, [{"kind": "teams", "url_env": "TEAMS_URL"}]), store, 0, [critical()])


def test_a_wrong_webhook_secret_is_refused_by_the_receiver(
    servers: Servers, store: MetricStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "not-the-secret")
    with pytest.raises(AlertDeliveryError, match="answered HTTP 401") as err:
        run(model_config(tmp_path, [ALL_SINKS[-1]]), store, 0, [critical()])
    assert "not-the-secret" not in str(err.value)


def test_secrets_never_reach_the_store_logs_or_files(
    servers: Servers, store: MetricStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    servers.pagerduty.fail("server_error", "server_error", "server_error")
    with caplog.at_level("DEBUG"), pytest.raises(AlertDeliveryError) as err:
        run(model_config(tmp_path), store, 0, [critical()])
    for secret in (PAGERDUTY_KEY, WEBHOOK_SECRET, TOKEN, "0000-teams-secret-1111"):
        assert secret not in caplog.text and secret not in str(err.value)
        assert secret.encode() not in (tmp_path / "wk.db").read_bytes()


def test_an_event_from_the_airflow_notifier_reaches_every_sink_escaped(
    servers: Servers, store: MetricStore, tmp_path: Path
) -> None:
    """What ``WatchkeeperNotifier`` sends from another DAG: an ``event`` notice with a failure."""
    from watchkeeper.alerting.entry import send_notice
    from watchkeeper.alerting.notice import Failure, Notice

    settings = model_config(tmp_path).model.alerts
    notice = Notice(
        kind="event",
        model="etl_nightly",
        severity="critical",
        title="etl_nightly.load_orders failed",
        text=f"orders {HOSTILE}",
        failure=Failure("etl_nightly", "load_orders", "manual__1", f"RuntimeError: {HOSTILE}"),
        links={"log": "http://airflow.example/log"},
    )
    summary = send_notice(notice, settings, key="event:etl:1", run_id="manual__1", store=store)
    assert summary["sent"] is True and summary["errors"] == []
    sent = "\n".join(strings_in(servers.slack.requests[-1].body))
    assert "<!channel>" not in sent and "&lt;!channel&gt;" in sent
    (mail,) = servers.smtp.messages
    _, rich = _parts(mail)
    assert mail["Subject"] == "[Watchkeeper] etl_nightly.load_orders failed" and "<script>" not in rich
    (event,) = servers.pagerduty.events()
    assert event["dedup_key"] == "watchkeeper/etl_nightly/etl_nightly/load_orders/manual__1"
    assert event["payload"]["summary"] == "etl_nightly.load_orders failed"
    (card,) = servers.teams.cards()
    assert r"\[click\]\(http://evil\.example\)" in "\n".join(strings_in(card["body"]))
    assert servers.hook.accepted()[0].body["notice"]["title"] == "etl_nightly.load_orders failed"
