"""The fault harness's counts, from what residents saw and what the database holds.

Kept apart from the harness (no servers, no threads) so the counting is unit-tested.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class MessageRecord:
    """One message a resident sent, and what came of it (times: time.monotonic())."""

    channel: str
    conversation_id: str
    sent_at: float
    acked: bool = False  # web: an HTTP 200 with replies; Telegram: the webhook's 200
    answered_at: float | None = None  # when any reply arrived (a "busy" reply included)
    busy: bool = False  # the reply was "the system is busy, send again"
    errors: list[str] = field(default_factory=list)


@dataclass
class Fault:
    name: str
    at: float
    ready_at: float | None = None  # the process (or server) answered its health check again


@dataclass
class FaultFigures:
    name: str
    ready_seconds: float | None
    recovered_seconds: float | None  # first real (not "busy") answer on every channel
    busy_replies: int
    errors: int


@dataclass
class Table:
    residents: int
    requests_told_saved: int
    missing: list[tuple[str, str]]  # (conversation, code) told saved, not in the database
    duplicates: int  # requests beyond the first of one resident
    webhooks_acked: int
    webhooks_acked_unanswered: int
    webhooks_never_acked: int
    messages: int
    messages_without_reply: int
    residents_without_reply: int  # residents with at least one message never answered
    residents_gave_up: int
    faults: list[FaultFigures]


def normalise(code: str) -> str:
    return code.replace("-", "").upper()


def count_missing(
    told: dict[str, list[str]], stored: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """(conversation, code) pairs a resident was told are saved and that the database does not
    hold for that resident."""
    have = {(conversation, normalise(code)) for conversation, code in stored}
    return [
        (conversation, code)
        for conversation, codes in told.items()
        for code in codes
        if (conversation, normalise(code)) not in have
    ]


def count_duplicates(stored: list[tuple[str, str]], conversations: set[str]) -> int:
    """Requests beyond one per resident (each simulated resident asks for one thing once)."""
    per_resident = Counter(
        conversation for conversation, _ in stored if conversation in conversations
    )
    return sum(n - 1 for n in per_resident.values() if n > 1)


def fault_figures(
    fault: Fault, until: float, records: list[MessageRecord], channels: set[str]
) -> FaultFigures:
    """How long after the fault each channel gave a real answer to a message sent after it;
    the slowest channel is the recovery time. Busy replies and errors are counted up to `until`
    (the next fault)."""
    window = [r for r in records if fault.at <= r.sent_at < until]
    firsts: dict[str, float] = {}
    for record in sorted(records, key=lambda r: r.sent_at):
        if record.sent_at < fault.at or record.answered_at is None or record.busy:
            continue
        if record.channel not in firsts:
            firsts[record.channel] = record.answered_at
    recovered = max(firsts[c] for c in channels) - fault.at if channels <= firsts.keys() else None
    return FaultFigures(
        name=fault.name,
        ready_seconds=None if fault.ready_at is None else fault.ready_at - fault.at,
        recovered_seconds=recovered,
        busy_replies=sum(1 for r in window if r.busy),
        errors=sum(len(r.errors) for r in window),
    )


def make_table(
    *,
    told: dict[str, list[str]],
    stored: list[tuple[str, str]],
    records: list[MessageRecord],
    faults: list[Fault],
    gave_up: int,
    end: float,
) -> Table:
    conversations = {r.conversation_id for r in records}
    channels = {r.channel for r in records}
    unanswered = [r for r in records if r.answered_at is None]
    webhooks = [r for r in records if r.channel != "web"]
    ends = [f.at for f in faults[1:]] + [end]
    return Table(
        residents=len(conversations),
        requests_told_saved=sum(len(codes) for codes in told.values()),
        missing=count_missing(told, stored),
        duplicates=count_duplicates(stored, conversations),
        webhooks_acked=sum(1 for r in webhooks if r.acked),
        webhooks_acked_unanswered=sum(1 for r in webhooks if r.acked and r.answered_at is None),
        webhooks_never_acked=sum(1 for r in webhooks if not r.acked),
        messages=len(records),
        messages_without_reply=len(unanswered),
        residents_without_reply=len({r.conversation_id for r in unanswered}),
        residents_gave_up=gave_up,
        faults=[fault_figures(f, e, records, channels) for f, e in zip(faults, ends, strict=True)],
    )


def render(table: Table) -> str:
    """The table printed at the end of a run (Markdown, for the README)."""

    def seconds(value: float | None) -> str:
        return "—" if value is None else f"{value:.1f} s"

    lines = [
        "| count | value | must be |",
        "|---|---|---|",
        f"| residents (conversations) | {table.residents} | |",
        f"| requests residents were told are saved | {table.requests_told_saved} | |",
        f"| … of them missing from the database | {len(table.missing)} | 0 |",
        f"| duplicate requests | {table.duplicates} | 0 |",
        f"| webhooks acknowledged (200) | {table.webhooks_acked} | |",
        f"| … acknowledged but never answered | {table.webhooks_acked_unanswered} | 0 |",
        f"| webhooks never acknowledged (sender gave up) | {table.webhooks_never_acked} | |",
        f"| messages sent / without any reply | {table.messages} / "
        f"{table.messages_without_reply} | |",
        f"| residents left without a reply to some message | {table.residents_without_reply} | |",
        f"| residents who gave up (over 30 questions) | {table.residents_gave_up} | |",
        "",
        "| fault | back up after | residents answered again after | busy replies | errors seen |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {f.name} | {seconds(f.ready_seconds)} | {seconds(f.recovered_seconds)} | "
        f"{f.busy_replies} | {f.errors} |"
        for f in table.faults
    ]
    return "\n".join(lines)
