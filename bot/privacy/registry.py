"""Every place the hotline keeps residents' personal data: one explicit list.

"Xem thông tin của tôi", "xóa thông tin của tôi" and the retention purge all read this list,
and tests fail when a table of the schema or a Redis key of the code is in neither list below.
A new table or key with personal data is added here, in the same change that creates it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline_nlu.tracker_backends import HEAD_KEY, LOG_KEY


@dataclass(frozen=True)
class PersonalTable:
    """A table holding residents' personal data.

    A row belongs to a conversation through `owner`: `resident_id` (rows of a resident),
    `conversation_id` (rows keyed by the conversation id itself), or `<column>-><table>` (rows
    of a row of another table of this list, e.g. the history of an aid request); several
    ways joined by `|` (a row belongs through any of them).
    """

    table: str
    owner: str
    age_column: str  # the retention period counts from this column
    # What a resident is told for "xem thông tin của tôi": {count}, and {refs} (the reference
    # codes in `ref_column`). None: shown as part of the table it belongs to.
    describe: str | None = None
    ref_column: str | None = None


@dataclass(frozen=True)
class PersonalKeys:
    """Redis keys holding personal data. `{conversation_id}` in the pattern is the resident's
    conversation; a pattern without it cannot be found per resident and must expire soon."""

    pattern: str
    describe: str  # for "xem thông tin của tôi"
    ttl_seconds: int  # how long a key lives at most (they are also erased on request)
    stream: bool = False  # a Redis stream whose entries carry a `conversation_id`
    channel: str | None = None  # only conversations of this channel have such keys


# Erased in this order (children first), the resident row last; the purge uses the same order.
PERSONAL_TABLES: tuple[PersonalTable, ...] = (
    # Replies to the resident (conversation_id) and team notifications of their requests.
    PersonalTable(
        "outbound_messages",
        owner="conversation_id|aid_request_id->aid_requests",
        age_column="created_at",
        describe="{count} tin nhắn tổng đài gửi cho bạn hoặc báo tổ hỗ trợ về yêu cầu của bạn.",
    ),
    PersonalTable(
        "request_status_changes", owner="request_id->aid_requests", age_column="created_at"
    ),
    PersonalTable(
        "aid_requests",
        owner="resident_id",
        age_column="created_at",
        describe="{count} đề nghị hỗ trợ (nhu cầu, hoàn cảnh, địa chỉ, số điện thoại): {refs}.",
        ref_column="ref_code",
    ),
    PersonalTable(
        "health_declarations",
        owner="resident_id",
        age_column="created_at",
        describe="{count} tờ khai y tế (họ tên, năm sinh, số điện thoại, nơi ở, tình trạng sức "
        "khỏe): {refs}.",
        ref_column="ref_code",
    ),
    PersonalTable(
        "consents",
        owner="resident_id",
        age_column="created_at",
        describe="{count} lần bạn đồng ý cung cấp thông tin, kèm thời điểm và phiên bản nội "
        "dung đã xem.",
    ),
    # The transcript: every message of the resident, the bot and staff, and staff's notes.
    PersonalTable(
        "conversation_messages",
        owner="resident_id",
        age_column="created_at",
        describe="Nội dung {count} tin nhắn trao đổi với tổng đài (tự động và nhân viên).",
    ),
    PersonalTable(
        "handoff_requests",
        owner="resident_id",
        age_column="created_at",
        describe="{count} lần đề nghị gặp nhân viên tổng đài.",
    ),
    PersonalTable(
        "channel_incidents",
        owner="conversation_id",
        age_column="created_at",
        describe="{count} ghi nhận tin nhắn của tổng đài không gửi được tới bạn (không kèm nội "
        "dung).",
    ),
    # Inbound jobs that failed every try: they hold the resident's message.
    PersonalTable(
        "dead_jobs",
        owner="conversation_id",
        age_column="created_at",
        describe="{count} tin nhắn của bạn chưa xử lý được, đang chờ cán bộ kiểm tra.",
    ),
    PersonalTable(
        "advisory_deliveries",
        owner="conversation_id",
        age_column="created_at",
        describe="{count} tin cảnh báo, hướng dẫn tổng đài đã gửi (hoặc định gửi) cho bạn.",
    ),
    PersonalTable(
        "subscriptions",
        owner="conversation_id",
        age_column="created_at",
        describe="{count} đăng ký nhận tin (phường/xã, tỉnh/thành bạn chọn).",
    ),
    # Rumour questions are kept scrubbed (no names, phones, addresses) and linked to the
    # conversation only when the resident asked to be told the answer; rules can miss, so the
    # table is personal data: erased with the resident, purged after the retention period.
    PersonalTable(
        "rumour_questions",
        owner="conversation_id",
        age_column="created_at",
        describe="{count} câu hỏi về tin đồn mà bạn muốn được báo khi có câu trả lời (đã bỏ "
        "tên, số điện thoại, địa chỉ).",
    ),
    PersonalTable(
        "resident_areas",
        owner="resident_id",
        age_column="updated_at",
        describe="Phường/xã, tỉnh/thành bạn cho biết khi hỏi về chương trình hỗ trợ hoặc thông "
        "báo của địa phương ({count}).",
    ),
    PersonalTable("residents", owner="conversation_id", age_column="last_seen_at"),
)

# Tables without personal data of residents, and why (checked by a test over the schema).
NO_PERSONAL_DATA: dict[str, str] = {
    "audit_events": "ids, codes and counts only; never names, phones or message text",
    "channel_tokens": "the channel's own OAuth tokens",
    "teams": "support teams and their group chats, not residents",
    "team_wards": "which wards a team covers",
    "users": "staff accounts (names of hotline staff and team members, password hashes), not residents",
    "user_teams": "which teams a staff account belongs to",
    "alembic_version": "the schema version",
    "aid_request_daily": "daily counts of requests per province, need, status and team",
    "aid_request_daily_wards": "daily counts of requests per ward",
    "advisories": "the advisory text admins wrote and its targets (areas), not residents",
    "content_revisions": "admins' edits of the FAQ, rumours, facts and canned replies (the "
    "author's account id), not residents",
    "intent_daily_counts": "counts of messages per day, intent and channel; no text, no id",
    "rumour_groups": "groups of rumour questions with names, phones and addresses removed, and "
    "admins' answers; linked to no resident (the questions are, in rumour_questions)",
    "notices": "what a ward or province tells all its residents, written by staff, not residents",
    "notice_wards": "which wards a notice applies to",
}

# Rasa's Redis stores as `hotline run` configures them: the key prefix, and the tracker
# expiry (`record_exp`: a conversation idle this long is dropped by Redis). Our tracker store
# (hotline_nlu/tracker_store.py) keeps a conversation in two keys, its log and its head.
RASA_REDIS_KEY_PREFIX = "hotline"
RASA_TRACKER_LOG_KEY = LOG_KEY.format(prefix=RASA_REDIS_KEY_PREFIX, sender_id="{conversation_id}")
RASA_TRACKER_HEAD_KEY = HEAD_KEY.format(prefix=RASA_REDIS_KEY_PREFIX, sender_id="{conversation_id}")
RASA_TRACKER_EXPIRY_SECONDS = 30 * 24 * 3600

# Redis keys with personal data. The delivery queue's stream is named by JOBS_STREAM.
JOBS_STREAM = "{jobs_stream}"
PERSONAL_KEYS: tuple[PersonalKeys, ...] = (
    PersonalKeys(
        "subscribe:{conversation_id}",
        describe="Câu hỏi đăng ký nhận tin đang chờ bạn trả lời, tự xóa sau 10 phút.",
        ttl_seconds=600,
    ),
    PersonalKeys(
        "turn:{conversation_id}:*",
        describe="Bản sao tạm các câu trả lời gần đây của tổng đài (để không trả lời trùng khi "
        "một tin nhắn đến hai lần), tự xóa sau 24 giờ.",
        ttl_seconds=24 * 3600,
    ),
    PersonalKeys(
        "console:outside-hours:{conversation_id}",
        describe="Dấu mốc lần gần nhất tổng đài báo bạn giờ làm việc của nhân viên, tự xóa sau "
        "30 phút.",
        ttl_seconds=30 * 60,
    ),
    PersonalKeys(
        "zalo:choices:{conversation_id}",
        describe="Các lựa chọn (nút bấm) vừa gửi cho bạn trên Zalo, tự xóa sau 1 giờ.",
        ttl_seconds=3600,
        channel="zalo",
    ),
    PersonalKeys(
        JOBS_STREAM,
        describe="Tin nhắn đang chờ xử lý (xóa ngay khi đã trả lời).",
        ttl_seconds=0,
        stream=True,
    ),
    # Rasa's tracker store in Redis (when REDIS_URL is set, `hotline run` gives Rasa the same
    # Redis): every event of the conversation, and the part a turn works with. Erased through
    # Rasa's HTTP API and, should Rasa be down, here. Shown as the conversation
    # (RASA_TRACKER_DESCRIBE), not as keys.
    PersonalKeys(RASA_TRACKER_LOG_KEY, describe="", ttl_seconds=RASA_TRACKER_EXPIRY_SECONDS),
    PersonalKeys(RASA_TRACKER_HEAD_KEY, describe="", ttl_seconds=RASA_TRACKER_EXPIRY_SECONDS),
    # Rasa's own Redis tracker store wrote the whole conversation here until 2026-11-27; such
    # keys expire within 30 days of their last turn, and are erased on request until then.
    PersonalKeys(
        RASA_REDIS_KEY_PREFIX + ":tracker:{conversation_id}",
        describe="",
        ttl_seconds=RASA_TRACKER_EXPIRY_SECONDS,
    ),
    # Long Telegram button payloads (e.g. "Tôi ở <phường>"), keyed by their digest: linked to
    # no conversation, so erasure cannot find them; they expire.
    PersonalKeys(
        "tg:payload:*",
        describe="Nội dung nút bấm dài trên Telegram (không gắn với tài khoản), tự xóa sau 30 "
        "ngày.",
        ttl_seconds=30 * 24 * 3600,
    ),
)

# Redis keys of the code that hold no personal data, and why (checked by a test of the code).
KEYS_WITHOUT_PERSONAL_DATA: dict[str, str] = {
    "event:": "a platform's event id, for webhook dedupe (a day)",
    "sent:": "how many replies of a queued job were sent (a day)",
    "attempts:": "how many times a queued job was tried",
    "outbound:paused:": "a channel paused after its token was refused",
    "rl:": "rate-limit counters; a chat's marker lives about a second",
    "privacy:": "when the retention purge last ran",
    "hotline:lock:": "Rasa's lock store: ticket numbers per conversation",
    "joblock:": "which worker runs a conversation's job now (expires with the job's claim)",
    "hotline:jobs": "the default name of the jobs stream (listed above as JOBS_STREAM)",
}

# Rasa keeps each conversation (messages, slots with form answers) in its tracker store; it
# is erased through Rasa's HTTP API, whatever the store (in memory, or Redis in production).
RASA_TRACKER_DESCRIBE = (
    "{count} tin nhắn của bạn trong cuộc trò chuyện với tổng đài (để hiểu ngữ cảnh khi trả lời)."
)


def table(name: str) -> PersonalTable:
    """The registry entry of a table."""
    for entry in PERSONAL_TABLES:
        if entry.table == name:
            return entry
    raise KeyError(name)
