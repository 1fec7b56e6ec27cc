"""The fault harness's reading of the bot and its counts (tests/chaos): what residents were
told against what the database holds, and the recovery time per fault."""

from __future__ import annotations

from tests.chaos.script import OPENING, Reply, next_step
from tests.chaos.tally import Fault, MessageRecord, count_duplicates, count_missing, make_table

PHONE = "0912345678"


def test_saved_code_is_read_from_the_final_reply() -> None:
    step = next_step(
        [Reply("Đã lưu đề nghị hỗ trợ của bạn. Mã yêu cầu: 7KQ2-M9XA. Tổ hỗ trợ …")], phone=PHONE
    )
    assert (step.kind, step.code) == ("saved", "7KQ2-M9XA")


def test_an_open_request_found_again_counts_as_told() -> None:
    step = next_step(
        [Reply("Tôi thấy bạn đang có đề nghị hỗ trợ mã 7KQ2-M9XA (đã giao), nên bạn không cần…")],
        phone=PHONE,
    )
    assert (step.kind, step.code) == ("already", "7KQ2-M9XA")


def test_questions_get_their_answers() -> None:
    consent = Reply("… Bạn có đồng ý không?", [("Đồng ý", '/affirm{"answer_to":"consent"}')])
    assert next_step([consent], phone=PHONE).text == '/affirm{"answer_to":"consent"}'
    ward = Reply("Bạn đang ở phường/xã nào, thuộc tỉnh/thành nào? (tên cũ trước 2025 cũng được)")
    assert next_step([ward], phone=PHONE).text == "phường Bến Thành, Hồ Chí Minh"
    province = Reply("Có 2 nơi tên Bến Thành. Bạn ở tỉnh/thành nào?")
    assert next_step([province], phone=PHONE).text == "Hồ Chí Minh"
    phone = Reply("Số điện thoại để tổ hỗ trợ liên hệ với bạn là số nào?")
    assert next_step([phone], phone=PHONE).text == PHONE


def test_busy_means_send_again_but_a_question_after_an_outage_is_answered() -> None:
    busy = Reply("Xin lỗi, hệ thống đang bận nên chưa trả lời được. …")
    assert next_step([busy], phone=PHONE).kind == "busy"
    assert next_step([], phone=PHONE).kind == "busy"
    outage = [
        Reply("Xin lỗi, hệ thống đang gặp sự cố nên thông tin của bạn CHƯA được lưu. …"),
        Reply("Bạn muốn gửi lại không?", [("Gửi lại", "/affirm"), ("Hủy", "/cancel")]),
    ]
    assert next_step(outage, phone=PHONE).text == "/affirm"


def test_an_answer_not_understood_starts_again() -> None:
    assert next_step([Reply("Chào bạn!")], phone=PHONE).text == OPENING


def test_missing_is_per_resident_and_ignores_the_dash() -> None:
    told = {"web:a": ["7KQ2-M9XA"], "web:b": ["AAAA-BBBB"], "telegram:1": ["CCCC-DDDD"]}
    stored = [("web:a", "7KQ2M9XA"), ("web:c", "AAAABBBB")]  # b's code belongs to another
    assert count_missing(told, stored) == [("web:b", "AAAA-BBBB"), ("telegram:1", "CCCC-DDDD")]


def test_duplicates_count_requests_beyond_one_per_simulated_resident() -> None:
    stored = [("web:a", "1"), ("web:a", "2"), ("web:a", "3"), ("web:b", "4"), ("web:x", "5")]
    assert count_duplicates(stored, {"web:a", "web:b"}) == 2


def test_table_counts_unanswered_webhooks_and_recovery() -> None:
    records = [
        MessageRecord("web", "web:a", 1.0, acked=True, answered_at=1.5),
        MessageRecord("telegram", "telegram:1", 2.0, acked=True, answered_at=None),
        MessageRecord("telegram", "telegram:2", 2.5, acked=False),
        MessageRecord("web", "web:a", 11.0, acked=True, answered_at=11.2, busy=True),
        MessageRecord("web", "web:a", 13.0, acked=True, answered_at=14.0),
        MessageRecord("telegram", "telegram:1", 12.0, acked=True, answered_at=16.0),
        MessageRecord("telegram", "telegram:1", 30.0, acked=True, answered_at=31.0),
    ]
    faults = [Fault("actions", 10.0, ready_at=12.5), Fault("redis", 25.0, ready_at=26.0)]
    table = make_table(
        told={"web:a": ["7KQ2-M9XA"]},
        stored=[("web:a", "7KQ2M9XA")],
        records=records,
        faults=faults,
        gave_up=0,
        end=40.0,
    )
    assert table.missing == []
    assert table.duplicates == 0
    assert (table.webhooks_acked, table.webhooks_acked_unanswered) == (3, 1)
    assert table.webhooks_never_acked == 1
    assert (table.messages_without_reply, table.residents_without_reply) == (2, 2)
    first, second = table.faults
    assert first.ready_seconds == 2.5
    assert first.recovered_seconds == 6.0  # telegram answered at 16.0, web at 14.0
    assert first.busy_replies == 1
    # After the second fault only Telegram sent anything: not recovered on every channel.
    assert second.recovered_seconds is None
