"""Messages: Block Kit validity (checked with slack-sdk's models), content, escaping, Slack's limits."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from watchkeeper.alerting import messages as m
from watchkeeper.alerting import render_notification_text
from watchkeeper.results import Status

from .helpers import W1, result

RUN_URL = "http://airflow.example/dags/monitor__fraud/runs/scheduled__2026-10-02"
REPORT_URL = "http://airflow.example/watchkeeper/fraud/2026-10-01"


def validate(blocks: list[dict[str, Any]]) -> None:
    """Every block parses as a slack-sdk model and passes its validation; Slack's message limits hold."""
    assert 0 < len(blocks) <= 50
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()
        assert parsed.to_dict() == block  # nothing we send is unknown to Block Kit
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000


def entry(check: str, subject: str, *results: Any, tag: str = "new") -> m.AlertEntry:
    findings = [m.describe(r) for r in results]
    severity = max((r.status for r in results), key=lambda s: s.rank)
    return m.AlertEntry(check, subject, str(severity), tag, findings, since=W1.start, previous_severity="warning")


LATENCY = result("service", "latency_p95_ms", "", 599.0, threshold=200, details={"critical": 500, "baseline": 120.0})
DRIFT = result("drift", "psi", "amount", 0.313, threshold=0.1, details={"critical": 0.25})
MISSING = result(
    "quality",
    "missing_share",
    "account_age_days",
    0.30,
    Status.WARNING,
    threshold=0.05,
    message="account_age_days: missing share 30% > 5% (warning) <script>&",
    details={"reference_share": 0.01},
)


def alert(entries: list[m.AlertEntry], **kw: Any) -> m.Message:
    args: dict[str, Any] = {
        "model": "fraud",
        "owner": "risk-team",
        "mentions": ["@here", "U024BE7LH", "@risk-oncall"],
        "window": W1,
        "status": Status.CRITICAL,
        "entries": entries,
        "run_url": RUN_URL,
        "report_url": None,
    }
    args.update(kw)
    return m.alert_message(**args)


def test_describe_takes_baseline_threshold_change_and_impact() -> None:
    latency = m.describe(LATENCY)
    assert latency["threshold"] == 500  # the critical level crossed, not the warning one
    assert latency["baseline"] == 120.0
    assert latency["change"] == pytest.approx((599 - 120) / 120)
    assert latency["impact"] == pytest.approx(99 / 500)
    assert m.change_text(latency) == "+399% (+479)"
    drift = m.describe(DRIFT)
    assert (drift["baseline"], drift["change"]) == (None, None)
    assert m.change_text(drift) == "1.25× threshold"
    missing = m.describe(MISSING)
    assert m.numbers_line(missing) == ("missing_share 30% · baseline 1% · threshold 5% · change +2900% (+29 pp)")
    rule = result("performance", "auc", "", 0.7, threshold=0.8, details={"baseline": 0.9, "change": -0.222})
    assert m.change_text(m.describe(rule)) == "-22% (-0.2)"


def test_consolidated_message_is_valid_block_kit_with_everything_people_need() -> None:
    entries = [entry("service", "", LATENCY), entry("drift", "amount", DRIFT), entry("quality", "x", MISSING)]
    message = alert(entries, report_url=REPORT_URL)
    validate(message.blocks)
    assert message.blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": ":red_circle: fraud: CRITICAL", "emoji": True},
    }
    texts = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    assert texts[0].startswith("*Window* 2026-10-01 00:00 → 2026-10-02 00:00 UTC\n*3 alerts* (3 findings)")
    # ranked by severity, then by how far past the threshold: drift (25% past) before latency (20% past)
    assert [t.split("\n")[0] for t in texts[1:]] == [
        ":red_circle: *drift* · `amount` — *new*",
        ":red_circle: *service* · model-wide — *new*",
        ":large_yellow_circle: *quality* · `x` — *new*",
    ]
    assert "• latency_p95_ms 599 · baseline 120 · threshold 500 · change +399% (+479)" in texts[2]
    assert "&lt;script&gt;&amp;" in texts[3] and "<script>" not in texts[3]  # user text is escaped
    context = [e["text"] for e in message.blocks[-1]["elements"]]
    assert context == [
        f"<{RUN_URL}|Airflow run>",
        f"<{REPORT_URL}|Report>",
        "Owner: risk-team · cc <!here> <@U024BE7LH> @risk-oncall",
    ]
    assert message.text.startswith("fraud CRITICAL: drift[amount] psi 0.313; service latency_p95_ms 599;")
    assert message.text.endswith("cc <!here> <@U024BE7LH> @risk-oncall")
    assert message.severity == "critical"
    assert message.plain.splitlines()[0] == "fraud: CRITICAL  (window 2026-10-01 00:00 → 2026-10-02 00:00 UTC)"
    assert "Owner: risk-team · cc @here U024BE7LH @risk-oncall" in message.plain


def test_warning_only_message_routes_as_warning() -> None:
    message = alert([entry("quality", "x", MISSING)], status=Status.WARNING)
    validate(message.blocks)
    assert message.severity == "warning"
    assert message.blocks[0]["text"]["text"] == ":large_yellow_circle: fraud: WARNING"


def test_many_alerts_are_truncated_with_a_link_to_the_full_report() -> None:
    entries = [entry("drift", f"feature_{i:03d}", DRIFT) for i in range(80)]
    message = alert(entries, report_url=REPORT_URL)
    validate(message.blocks)
    sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    assert len(sections) == 1 + m.MAX_ALERTS_SHOWN + 1
    assert sections[-1] == f"… and 70 more findings — see <{REPORT_URL}|full report>"
    assert "… and 70 more findings — see " + REPORT_URL in message.plain
    assert len(message.text) <= m.FALLBACK_TEXT_CHARS


def test_block_limit_holds_even_when_more_alerts_may_be_shown() -> None:
    entries = [entry("drift", f"feature_{i:03d}", DRIFT, DRIFT) for i in range(200)]
    message = alert(entries, max_shown=500)  # no report yet: the run link stands in
    validate(message.blocks)
    assert len(message.blocks) == 50
    shown = 50 - 5  # header, summary, divider, "more", context
    assert message.blocks[-2]["text"]["text"] == (
        f"… and {(200 - shown) * 2} more findings — see <{RUN_URL}|full report>"
    )


def test_huge_texts_are_clipped_to_slack_limits() -> None:
    giant = result("drift", "psi", "x" * 5000, 0.4, message="y" * 10_000)
    message = alert([entry("drift", "x" * 5000, giant)], mentions=["@here"] * 30)
    validate(message.blocks)
    assert len(message.blocks[0]["text"]["text"]) <= 150
    assert all(len(b["text"]["text"]) <= 3000 for b in message.blocks if b["type"] == "section")
    assert len(message.text) <= 40_000 and message.text.endswith("…")


def test_reminder_recovered_and_failure_messages_validate() -> None:
    reminder = m.reminder_message(
        model="fraud",
        window=W1,
        entries=[entry("drift", "amount", DRIFT, tag="ongoing")],
        cooldown_text="1d",
        run_url=RUN_URL,
    )
    validate(reminder.blocks)
    assert "still failing" in reminder.blocks[0]["text"]["text"] and "every 1d" in reminder.blocks[0]["text"]["text"]
    assert "ongoing since 2026-10-01" in reminder.blocks[1]["text"]["text"]

    ok = result("drift", "psi", "amount", 0.02, Status.OK, threshold=0.1)
    recovered = m.recovered_message(
        model="fraud",
        window=W1,
        entries=[m.AlertEntry("drift", "amount", "ok", "resolved", [m.describe(ok)], previous_severity="critical")],
        run_url=None,
    )
    validate(recovered.blocks)
    assert recovered.text == "fraud recovered: drift[amount]"
    assert "recovered (was critical)" in recovered.blocks[1]["text"]["text"]
    assert "psi 0.02 (threshold 0.1)" in recovered.blocks[1]["text"]["text"]

    failed = m.monitor_failed_message(
        model="fraud",
        owner="risk-team",
        mentions=["@here"],
        dag_id="monitor__fraud",
        task="check[drift]",
        run_id="scheduled__2026-10-02",
        error="SourceError: no parquet file matches '/data/*.parquet' ```\nTraceback <x>",
        log_url="http://airflow.example/log",
        run_url=RUN_URL,
    )
    validate(failed.blocks)
    assert failed.blocks[0]["text"]["text"] == ":rotating_light: fraud: monitoring failed"
    assert "*task* `check[drift]`" in failed.blocks[1]["text"]["text"]
    assert "not monitored" in failed.blocks[1]["text"]["text"]
    assert failed.blocks[2]["text"]["text"].count("```") == 2  # the error's own fences cannot break out
    assert "&lt;x&gt;" in failed.blocks[2]["text"]["text"]
    assert "<http://airflow.example/log|Task log>" in [e["text"] for e in failed.blocks[3]["elements"]]
    assert failed.text.startswith("Monitoring of fraud FAILED in monitor__fraud.check[drift]")


@pytest.mark.parametrize(
    ("mention", "markup"),
    [
        ("@here", "<!here>"),
        ("channel", "<!channel>"),
        ("U024BE7LH", "<@U024BE7LH>"),
        ("@W012A3CDE", "<@W012A3CDE>"),
        ("S0614TZR7", "<!subteam^S0614TZR7>"),
        ("<!subteam^S1|oncall>", "<!subteam^S1|oncall>"),
        ("@risk-oncall", "@risk-oncall"),
        ("a<b", "a&lt;b"),
    ],
)
def test_mentions(mention: str, markup: str) -> None:
    assert m.slack_mention(mention) == markup


def test_render_notification_text_of_a_jsonl_record() -> None:
    message = alert([entry("drift", "amount", DRIFT)])
    record = {"kind": "alert", "channel": "#ml", "thread": None, **message.payload()}
    text = render_notification_text(record)
    assert text.splitlines()[0] == "[alert → #ml]"
    assert text.splitlines()[1].startswith("fraud: CRITICAL")
    reply = render_notification_text({"kind": "recovered", "channel": None, "thread": "k", "plain": "fine"})
    assert reply == "[recovered → (default channel) · thread reply]\nfine"
