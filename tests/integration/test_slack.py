"""Alert delivery with the real slack-sdk clients against a local Slack server (tests/integration/slack_server.py).

Covers: Block Kit validity of what is posted, threading, 429 with Retry-After, 500s, timeouts, an outage
over several runs, task retries, expiry, invalid_auth / token_revoked / channel_not_found, truncation,
incoming webhooks, and that the token never leaks.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alert_runs import at, fraud_config, run, strings_in
from slack_sdk.models.blocks import Block
from slack_server import TOKEN, WEBHOOK_PATH, SlackServer

from watchkeeper.alerting import notify_monitor_failure
from watchkeeper.alerting.sinks import slack as sinks_module
from watchkeeper.config import LoadedConfig
from watchkeeper.exceptions import AlertDeliveryError
from watchkeeper.reporting import alert_file
from watchkeeper.results import CheckResult, Status
from watchkeeper.store import MetricStore

REPORT_URL = "http://airflow.example/watchkeeper/fraud/report"


def finding(check: str, metric: str, subject: str = "", value: float = 0.4, threshold: float = 0.1) -> CheckResult:
    return CheckResult(check, metric, subject, value, threshold, Status.CRITICAL, f"{metric} {value} (bad)", {})


def fine(check: str, metric: str, subject: str = "") -> CheckResult:
    return CheckResult(check, metric, subject, 0.01, 0.1, Status.OK, f"{metric} fine", {})


DRIFT = finding("drift", "psi", "amount")
P95 = finding("service", "latency_p95_ms", "", 700.0, threshold=500.0)


def model_config(tmp: Path, **alerts: Any) -> LoadedConfig:
    return fraud_config(tmp, {"channel": "#ml-alerts", "mentions": ["@here"], **alerts})


@pytest.fixture(scope="module")
def server() -> Iterator[SlackServer]:
    fake = SlackServer().start()
    yield fake
    fake.stop()


@pytest.fixture
def slack(server: SlackServer, monkeypatch: pytest.MonkeyPatch) -> SlackServer:
    """The fake Slack, reset, with the environment pointing the bot token sink at it."""
    server.reset()
    server.tokens = {TOKEN}
    server.retry_after = 1
    server.slow_seconds = 1.5
    for name in ("WATCHKEEPER_SLACK_WEBHOOK_URL", "WATCHKEEPER_ALERT_SINK", "WATCHKEEPER_SLACK_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_API_DEFAULT", raising=False)
    monkeypatch.setenv("WATCHKEEPER_SLACK_TOKEN", TOKEN)
    monkeypatch.setenv("WATCHKEEPER_SLACK_API_URL", server.url)
    monkeypatch.setenv("WATCHKEEPER_SLACK_TIMEOUT", "0.5")
    monkeypatch.setattr(sinks_module, "RETRY_BACKOFF_S", 0.05)  # keep the suite fast; the logic is slack-sdk's
    return server


def validate(blocks: list[dict[str, Any]] | None) -> None:
    assert blocks and len(blocks) <= 50
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()


# -- delivery and threading ------------------------------------------------------------------------


def test_consolidated_message_is_posted_as_valid_block_kit(
    slack: SlackServer, store: MetricStore, tmp_path: Path
) -> None:
    summary = run(model_config(tmp_path), store, 0, [DRIFT, P95, fine("quality", "row_count")])
    assert (summary["sink"], summary["sent"], summary["pending"]) == ("slack", 1, 0)
    (request,) = slack.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.body["channel"] == "#ml-alerts" and "thread_ts" not in request.body
    assert request.body["text"].startswith("fraud CRITICAL: drift[amount] psi 0.4; service latency_p95_ms 700")
    validate(request.body["blocks"])
    (posted,) = slack.messages
    (row,) = store.notifications("fraud")
    assert (row.status, row.sink, row.ts, row.delivered_channel, row.attempts) == (
        "sent",
        "slack",
        posted.ts,
        "C0ALERTS",
        1,
    )


def test_replies_are_threaded_under_their_parent(slack: SlackServer, store: MetricStore, tmp_path: Path) -> None:
    config = model_config(tmp_path, cooldown="1d")
    run(config, store, 0, [DRIFT, P95])
    (parent,) = slack.messages
    run(config, store, 1, [DRIFT, fine("service", "latency_p95_ms")])  # drift: reminder; service: recovered
    replies = slack.thread(parent.ts)
    assert [r.text.split(":")[0] for r in replies] == ["fraud still failing", "fraud recovered"]
    assert {r.channel for r in replies} == {"C0ALERTS"}  # replies go to the parent's channel id
    for reply in replies:
        validate(reply.blocks)
    assert slack.top_level() == [parent]
    # the failures of one DAG run: one message, then replies in its thread
    for task in ("check[drift]", "check[quality]"):
        summary = notify_monitor_failure(
            model="fraud",
            dag_id="monitor__fraud",
            task_id=task,
            run_id="scheduled__2",
            error="SourceError: no parquet file matches '/data/*.parquet'",
            config=config,
            store=store,
            log_url="http://airflow.example/log",
            now=at(2),
        )
        assert summary["sent"] is True
    failure = slack.top_level()[-1]
    assert failure.text.startswith("Monitoring of fraud FAILED in monitor__fraud.check[drift]")
    validate(failure.blocks)
    assert [m.text.split(" (run")[0] for m in slack.thread(failure.ts)] == [
        "Monitoring of fraud FAILED in monitor__fraud.check[quality]"
    ]


# -- slack-sdk's retry handlers ---------------------------------------------------------------------


def test_rate_limit_honours_retry_after(slack: SlackServer, store: MetricStore, tmp_path: Path) -> None:
    slack.fail("ratelimited")
    began = time.monotonic()
    assert run(model_config(tmp_path), store, 0, [DRIFT])["sent"] == 1
    first, second = slack.requests
    assert (first.outcome, second.outcome) == ("ratelimited", "ok")
    assert second.at - first.at >= 1.0  # Retry-After: 1
    assert time.monotonic() - began < 5
    assert len(slack.messages) == 1


def test_server_errors_are_retried(slack: SlackServer, store: MetricStore, tmp_path: Path) -> None:
    slack.fail("server_error", "server_error")
    assert run(model_config(tmp_path), store, 0, [DRIFT])["sent"] == 1
    assert [r.outcome for r in slack.requests] == ["server_error", "server_error", "ok"]
    assert len(slack.messages) == 1


def test_timeouts_are_retried(slack: SlackServer, store: MetricStore, tmp_path: Path) -> None:
    slack.fail("slow")  # answers after 1.5 s; the client gives up after 0.5 s and tries again
    began = time.monotonic()
    assert run(model_config(tmp_path), store, 0, [DRIFT])["sent"] == 1
    assert time.monotonic() - began < 1.5
    assert [r.outcome for r in slack.requests] == ["slow", "ok"]
    assert len(slack.messages) == 1


# -- the outbox --------------------------------------------------------------------------------------


def test_an_outage_over_several_runs_delivers_every_alert_exactly_once_afterwards(
    slack: SlackServer, store: MetricStore, tmp_path: Path
) -> None:
    config = model_config(tmp_path, cooldown="7d")
    with slack.outage("server_error"):
        pending = []
        for day, results in enumerate([[DRIFT], [DRIFT, P95], [fine("drift", "psi", "amount"), P95]]):
            with pytest.raises(
                AlertDeliveryError, match=r"answered HTTP 500 \(internal_error\) after 2 retries"
            ) as err:
                run(config, store, day, results)
            pending.append(err.value.summary["pending"])
        assert pending == [1, 2, 3]
        # one send (with slack-sdk's 2 retries) per run: the outage stops the walk, nothing is hammered
        assert len(slack.requests) == 3 * 3
    assert slack.messages == []
    # Slack is back; the next dispatch (here day 2's task retry, 6 h later) catches up, oldest first
    summary = run(config, store, 2, [fine("drift", "psi", "amount"), P95], now=at(2) + timedelta(hours=6))
    assert (summary["sent"], summary["pending"], summary["notifications"]) == (3, 0, 0)
    day0, day1, recovered = slack.messages
    assert (day0.thread_ts, day1.thread_ts) == (None, None)
    assert "fraud CRITICAL: drift[amount]" in day0.text and "service latency_p95_ms" in day1.text
    assert recovered.thread_ts == day1.ts and recovered.text == "fraud recovered: drift[amount]"
    assert [n.status for n in store.notifications("fraud")] == ["sent", "sent", "sent"]
    # during the outage only the oldest was tried (the walk stops at an outage): 3 failures + 1 success
    assert [n.attempts for n in store.notifications("fraud")] == [4, 1, 1]
    # and nothing is sent again afterwards
    assert run(config, store, 3, [fine("drift", "psi", "amount"), P95])["notifications"] == 0
    assert len(slack.messages) == 3


def test_a_retried_task_after_a_successful_send_sends_no_duplicate(
    slack: SlackServer, store: MetricStore, tmp_path: Path
) -> None:
    config = model_config(tmp_path)
    for attempt in range(3):
        run(config, store, 0, [DRIFT, P95], now=at(0) + timedelta(minutes=attempt))
    assert len(slack.messages) == 1 and len(slack.requests) == 1


def test_a_failed_send_is_retried_by_the_task_retry(slack: SlackServer, store: MetricStore, tmp_path: Path) -> None:
    config = model_config(tmp_path)
    slack.fail("server_error", "server_error", "server_error")
    with pytest.raises(AlertDeliveryError):
        run(config, store, 0, [DRIFT])
    summary = run(config, store, 0, [DRIFT], now=at(0) + timedelta(minutes=1))  # Airflow's retry, a minute later
    assert (summary["sent"], summary["pending"], summary["notifications"]) == (1, 0, 0)  # queued by attempt 1
    assert len(slack.messages) == 1


def test_a_retry_of_the_task_that_died_holding_a_claim_sends_it_once(
    slack: SlackServer, store: MetricStore, tmp_path: Path
) -> None:
    """A worker SIGKILLed between claiming a delivery and sending it leaves a 5-minute claim; the same task
    instance's next try takes it over (anyone else still waits for the lease), and sends it exactly once."""
    config = model_config(tmp_path)
    task = "monitor__fraud/scheduled__0/report/-1"
    slack.fail("server_error", "server_error", "server_error")  # try 1 queues the alert, cannot send it
    with pytest.raises(AlertDeliveryError):
        run(config, store, 0, [DRIFT], sender=task)
    ((_, delivery),) = store.deliveries("fraud", status="pending")
    assert delivery.claimed_by is None  # a failed send releases the claim: its backoff holds for everyone
    # try 2 claims it after the backoff ... and its worker dies before sending (nothing reaches Slack)
    claimed_at = at(0) + timedelta(minutes=1)
    assert store.claim_delivery(delivery.id, now=claimed_at, until=claimed_at + timedelta(minutes=5), sender=task)
    requests = len(slack.requests)
    later = claimed_at + timedelta(minutes=1)
    for other in (None, "monitor__fraud/scheduled__1/report/-1"):  # the CLI, another run: the lease holds
        summary = run(config, store, 0, [DRIFT], now=later, sender=other)
        assert (summary["sent"], summary["pending"]) == (0, 1)
    assert len(slack.requests) == requests and slack.messages == []
    summary = run(config, store, 0, [DRIFT], now=later, sender=task)  # try 3 of the same task instance
    assert (summary["sent"], summary["pending"]) == (1, 0)
    assert len(slack.messages) == 1 and "fraud CRITICAL: drift[amount]" in slack.messages[0].text
    assert run(config, store, 0, [DRIFT], now=later + timedelta(minutes=1), sender=task)["sent"] == 0
    assert len(slack.messages) == 1
    (row,) = store.notifications("fraud")
    assert row.status == "sent"


def test_backoff_spaces_attempts(slack: SlackServer, store: MetricStore, tmp_path: Path) -> None:
    config = model_config(tmp_path)
    slack.fail(*["server_error"] * 3)
    with pytest.raises(AlertDeliveryError):
        run(config, store, 0, [DRIFT])
    summary = run(config, store, 0, [DRIFT], now=at(0) + timedelta(seconds=10))  # within the 30 s backoff
    assert (summary["sent"], summary["pending"]) == (0, 1)
    assert len(slack.requests) == 3  # not tried again yet
    (row,) = store.notifications("fraud")
    assert row.next_attempt_at == at(0) + timedelta(seconds=30)


def test_expired_notifications_are_reported_not_dropped(
    slack: SlackServer, store: MetricStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = model_config(tmp_path)
    with slack.outage("server_error"), pytest.raises(AlertDeliveryError):
        run(config, store, 0, [DRIFT])
    with caplog.at_level(logging.ERROR, logger="watchkeeper.alerting.outbox"):
        summary = run(config, store, 4, [DRIFT], now=at(0) + timedelta(days=3, minutes=1))
    assert summary["expired"] == 1
    assert "EXPIRED undelivered to default after 1 attempt(s)" in caplog.text and "fraud: CRITICAL" in caplog.text
    (expired,) = [
        r for r in map(json.loads, alert_file().read_text().splitlines()) if r["record"] == "notification_expired"
    ]
    assert (expired["kind"], expired["model"], expired["attempts"]) == ("alert", "fraud", 1)
    assert "drift[amount]" in expired["plain"] and "HTTP 500" in expired["last_error"]
    assert [n.status for n in store.notifications("fraud")][0] == "expired"


# -- bad input ---------------------------------------------------------------------------------------


def test_invalid_auth_is_a_clear_error_and_the_message_stays_in_the_outbox(
    slack: SlackServer, store: MetricStore, tmp_path: Path
) -> None:
    config = model_config(tmp_path, cooldown="7d")
    slack.fail("invalid_auth")
    with pytest.raises(AlertDeliveryError) as err:
        run(config, store, 0, [DRIFT])
    assert str(err.value) == (
        "model fraud: 1 alert notification(s) not delivered yet: Slack rejected the bot token from the "
        "$WATCHKEEPER_SLACK_TOKEN (invalid_auth) -- put a valid bot token (xoxb-..., scope chat:write) in the "
        "environment variable WATCHKEEPER_SLACK_TOKEN; the notification stays in the outbox and is sent by the "
        "next run after the fix"
    )
    (row,) = store.notifications("fraud")
    assert row.status == "pending" and "invalid_auth" in (row.last_error or "")
    assert len(slack.requests) == 1  # an auth error is not retried within the send
    run(config, store, 1, [DRIFT])  # token fixed: the next run delivers it
    assert [m.text.split(":")[0] for m in slack.messages] == ["fraud CRITICAL"]


def test_revoked_token_from_the_airflow_connection_names_the_connection(
    slack: SlackServer, store: MetricStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WATCHKEEPER_SLACK_TOKEN")
    monkeypatch.delenv("WATCHKEEPER_SLACK_API_URL")
    connection = {"conn_type": "slack", "password": TOKEN, "extra": {"base_url": slack.url, "timeout": 2}}
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(connection))
    slack.fail("token_revoked")
    with pytest.raises(AlertDeliveryError) as err:
        run(model_config(tmp_path), store, 0, [DRIFT])
    assert (
        "Slack rejected the bot token from the Airflow connection 'slack_api_default' (token_revoked) -- put a "
        "valid bot token (xoxb-..., scope chat:write) in the password of the Airflow connection "
        "'slack_api_default'"
    ) in str(err.value)
    assert store.notifications("fraud")[0].status == "pending"
    assert TOKEN not in str(err.value)


def test_unknown_channel_names_the_channel_and_the_fix(slack: SlackServer, store: MetricStore, tmp_path: Path) -> None:
    with pytest.raises(AlertDeliveryError) as err:
        run(model_config(tmp_path, channel="#fraud-typo", cooldown="7d"), store, 0, [DRIFT])
    assert (
        "Slack channel '#fraud-typo' of model fraud cannot be posted to (channel_not_found) -- invite the bot to "
        "the channel (/invite @your-bot) or fix alerts.channel / alerts.severity_channels in the model's YAML"
    ) in str(err.value)
    assert store.notifications("fraud")[0].status == "pending"
    # the YAML is fixed: the pending message is routed with the new config and delivered
    run(model_config(tmp_path, channel="#ml-alerts", cooldown="7d"), store, 1, [DRIFT])
    assert [m.channel for m in slack.messages] == ["C0ALERTS"]


def test_a_message_over_slack_limits_is_truncated_with_the_report_link(
    slack: SlackServer, store: MetricStore, tmp_path: Path
) -> None:
    results = [finding("drift", "psi", f"feature_{i:03d}") for i in range(120)]
    run(model_config(tmp_path), store, 0, results, report_url=REPORT_URL)
    (posted,) = slack.messages
    validate(posted.blocks)
    assert posted.blocks is not None
    assert posted.blocks[-2]["text"]["text"] == f"… and 110 more findings — see <{REPORT_URL}|full report>"
    assert len(posted.text) <= 40_000


# -- incoming webhook ---------------------------------------------------------------------------------


def test_incoming_webhook_delivers_and_retries(
    slack: SlackServer, store: MetricStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WATCHKEEPER_SLACK_TOKEN")
    monkeypatch.setenv("WATCHKEEPER_SLACK_WEBHOOK_URL", slack.webhook_url)
    config = model_config(tmp_path, cooldown="7d")
    slack.fail("server_error")
    assert run(config, store, 0, [DRIFT])["sink"] == "slack_webhook"
    assert [r.outcome for r in slack.requests] == ["server_error", "ok"]
    assert slack.requests[-1].path == WEBHOOK_PATH
    run(config, store, 1, [fine("drift", "psi", "amount")])
    alert, recovered = slack.messages
    assert (alert.via, recovered.via, recovered.thread_ts) == ("webhook", "webhook", None)  # no threads
    validate(alert.blocks)
    validate(recovered.blocks)


def test_a_rejected_webhook_is_a_clear_error_without_the_url(
    slack: SlackServer, store: MetricStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WATCHKEEPER_SLACK_TOKEN")
    wrong = slack.webhook_url.replace("webhooksecret", "revokedsecret")
    monkeypatch.setenv("WATCHKEEPER_SLACK_WEBHOOK_URL", wrong)
    with pytest.raises(AlertDeliveryError) as err:
        run(model_config(tmp_path), store, 0, [DRIFT])
    assert (
        "Slack rejected the incoming webhook from the $WATCHKEEPER_SLACK_WEBHOOK_URL (invalid_token, HTTP 403) -- "
        "create a new webhook URL in the Slack app and put it in the environment variable "
        "WATCHKEEPER_SLACK_WEBHOOK_URL"
    ) in str(err.value)
    assert "revokedsecret" not in str(err.value)
    assert store.notifications("fraud")[0].status == "pending"


# -- secrets -----------------------------------------------------------------------------------------


def test_the_token_never_appears_in_logs_messages_or_files(
    slack: SlackServer, store: MetricStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = model_config(tmp_path)
    errors: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for day, outcomes in enumerate([["invalid_auth"], ["server_error"] * 3, ["slow", "ok"], ["channel_not_found"]]):
            slack.fail(*outcomes)
            try:
                run(config, store, day, [finding("drift", "psi", f"f{day}")])
            except AlertDeliveryError as exc:
                errors.append(str(exc))
                errors.append(repr(exc.summary))
        notify_monitor_failure(
            model="fraud",
            dag_id="monitor__fraud",
            task_id="report",
            run_id="scheduled__9",
            error="boom",
            config=config,
            store=store,
        )
    assert len(errors) == 6 and slack.messages  # failures happened, and so did deliveries
    assert TOKEN not in caplog.text
    assert all(TOKEN not in e for e in errors)
    rows = store.notifications("fraud")
    assert TOKEN not in repr(rows) and any(r.last_error for r in rows)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".db":
            assert TOKEN not in path.read_text(errors="ignore"), path
    assert TOKEN not in Path(tmp_path / "wk.db").read_bytes().decode("latin-1")
    if alert_file().exists():
        assert TOKEN not in alert_file().read_text()
    for request in slack.requests:  # the token travels only in the Authorization header
        assert TOKEN not in json.dumps(request.body)


# -- injection ---------------------------------------------------------------------------------------


def test_data_never_pings_or_links_in_any_text_sent(slack: SlackServer, store: MetricStore, tmp_path: Path) -> None:
    """A category value or a CSV header such as ``<!channel>`` reaches Slack escaped: in blocks, in the
    top-level ``text`` (notifications), in thread replies and in "monitoring failed" messages."""
    config = model_config(tmp_path, mentions=["U024BE7LH"], cooldown="1d")
    hostile = [
        finding("drift", "psi", "<!channel>"),
        CheckResult(
            "quality",
            "missing_share",
            "<@U0HOSTILE>",
            0.4,
            0.1,
            Status.CRITICAL,
            "see <https://evil.example|here> & <!here>",
            {},
        ),
    ]
    run(config, store, 0, hostile)
    run(config, store, 1, [hostile[0], fine("quality", "missing_share", "<@U0HOSTILE>")])  # reminder + recovered
    notify_monitor_failure(
        model="fraud",
        dag_id="monitor__fraud",
        task_id="check[quality]",
        run_id="scheduled__2",
        error="KeyError: '<!everyone>' & <@U0HOSTILE>",
        config=config,
        store=store,
        now=at(2),
    )
    assert [r.outcome for r in slack.requests] == ["ok"] * 4
    assert len(slack.thread(slack.messages[0].ts)) == 2  # reminder and recovery replies
    for request in slack.requests:
        sent = strings_in(request.body)
        joined = "\n".join(sent)
        for raw in ("<!channel>", "<!here>", "<!everyone>", "<@U0HOSTILE>", "<https://evil"):
            assert raw not in joined, (raw, request.body)
        assert "&lt;!channel&gt;" in joined or "&lt;!everyone&gt;" in joined or "&lt;@U0HOSTILE&gt;" in joined
        # every '<' sent opens a link or mention we made: our own URLs or the configured owner
        for text in sent:
            for opened in text.split("<")[1:]:
                assert opened.startswith(("http://airflow.example", "@U024BE7LH>")), (opened, text)
    first = slack.requests[0].body
    assert "&lt;!channel&gt;" in first["text"] and first["text"].endswith("cc <@U024BE7LH>")
