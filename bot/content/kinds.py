"""The kinds of content an admin edits: file, schema of one entry, form fields and preview.

Adding a kind is one `ContentKind(...)` in `KINDS` below: say where its entries are in the file
(`mapping_entries("topics")` or `list_entries("rumors")`), a pydantic schema of one entry, the
form's fields and how a resident would see an entry. The revisions, the merge over the file,
the pages, the history and the audit come for free.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic import Field as Size

from bot.content.aid_programmes import CONTENT_KIND as AID_PROGRAMMES_KIND
from bot.content.aid_programmes import FILE_NAME as AID_PROGRAMMES_FILE
from bot.content.aid_programmes import NATIONAL, AidProgramme, describe_programme
from bot.content.service import _PLACEHOLDER, ContentError, _lookup, render
from hotline_nlu.normalize import fold, strip_diacritics

# Zalo's limit for one text message (Telegram allows 4,096): an answer must fit the smaller.
MAX_ANSWER_CHARS = 2000
_SLUG = r"^[a-z0-9][a-z0-9_]{1,63}$"
_VIETNAMESE_MIN_WORDS = 5


def _placeholders_known(text: str) -> str:
    """Every {a.b} names a fact of facts.yml; braces are used for nothing else."""
    for match in _PLACEHOLDER.finditer(text):
        try:
            _lookup(match.group(1), None)
        except ContentError:
            raise ValueError(
                f"không có thông tin {match.group(0)} trong facts.yml "
                "(xem danh sách ở trang Thông tin cố định)"
            ) from None
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        raise ValueError(
            "dấu ngoặc nhọn chỉ dùng cho chỗ điền thông tin, ví dụ {hotlines.emergency.number}"
        )
    return text


def _resident_text(text: str) -> str:
    """A text residents read: Vietnamese with diacritics, short enough for every channel."""
    text = text.replace("\r\n", "\n").strip()
    _placeholders_known(text)
    lower = text.lower()
    if len(text.split()) >= _VIETNAMESE_MIN_WORDS and strip_diacritics(lower) == lower:
        raise ValueError("cần viết tiếng Việt có dấu (người dân đọc câu này)")
    rendered = render(text)
    if len(rendered) > MAX_ANSWER_CHARS:
        raise ValueError(
            f"sau khi điền thông tin dài {len(rendered)} ký tự; tối đa {MAX_ANSWER_CHARS} "
            "(giới hạn một tin nhắn Zalo)"
        )
    return text


def _keyword(text: str) -> str:
    text = " ".join(text.split())
    if fold(text) != text or not re.fullmatch(r"[a-z0-9]+( [a-z0-9]+)+", text):
        raise ValueError(
            f"từ khóa “{text}” phải là chữ thường không dấu, từ 2 từ trở lên (ví dụ: an toi chua covid)"
        )
    return text


def _verdict(value: object) -> object:
    return {False: "false", True: "true"}.get(value, value) if isinstance(value, bool) else value


ResidentText = Annotated[str, Size(min_length=1, max_length=4000), AfterValidator(_resident_text)]
Keyword = Annotated[str, AfterValidator(_keyword)]
Slug = Annotated[str, Size(pattern=_SLUG)]


class FaqButton(BaseModel):
    title: Annotated[str, Size(min_length=1, max_length=40)]
    payload: Annotated[str, Size(pattern=r"^/[a-z][a-z0-9_]{1,63}$")]


class FaqEntry(BaseModel):
    """An answer to a question (keyed by the intent's name)."""

    model_config = ConfigDict(extra="allow")
    text: ResidentText
    buttons: Annotated[list[FaqButton], Size(max_length=6)] = []
    sources: list[Annotated[str, Size(min_length=1, max_length=300)]] = []
    verified: bool = False


class RumorEntry(BaseModel):
    """A known rumour: the words that find it, and the rebuttal."""

    model_config = ConfigDict(extra="allow")
    id: Slug
    keywords: Annotated[list[Keyword], Size(min_length=1, max_length=40)]
    verdict: Annotated[Literal["false", "true", "partly"], BeforeValidator(_verdict)] = "false"
    text: ResidentText
    source: Annotated[str, Size(max_length=300)] = ""
    verified: bool = False


class CannedReplyEntry(BaseModel):
    """A ready answer staff pick in the console."""

    model_config = ConfigDict(extra="allow")
    id: Slug
    title: Annotated[str, Size(min_length=1, max_length=60)]
    text: ResidentText


class FactGroup(BaseModel):
    """The values of one group of facts.yml, which are verified, and the fallbacks."""

    values: dict[str, Annotated[str, Size(min_length=1, max_length=500)]]
    verified: list[str] = []
    fallback: dict[str, Annotated[str, Size(max_length=500)]] = {}

    @model_validator(mode="after")
    def _known_names(self) -> FactGroup:
        unknown = (set(self.verified) | set(self.fallback)) - set(self.values)
        if unknown:
            raise ValueError(f"không có giá trị {', '.join(sorted(unknown))} trong nhóm")
        for name, text in self.fallback.items():
            if text:
                try:
                    _placeholders_known(text)
                except ValueError as exc:
                    raise ValueError(f"thay thế của {name}: {exc}") from None
        return self


@dataclass(frozen=True)
class FormField:
    """One input of an entry's form. `name` is a dotted path into the entry's value."""

    name: str
    label: str
    widget: Literal["text", "textarea", "lines", "pairs", "checkbox", "choice", "checklist"] = (
        "text"
    )
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    max_length: int | None = None
    fixed_on_edit: bool = False  # the entry's key: shown, not changed once it exists


@dataclass(frozen=True)
class Preview:
    """What a resident (or a staff member, for canned replies) would see."""

    text: str = ""
    buttons: list[str] = field(default_factory=list)
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # fact, value, shown
    notes: list[str] = field(default_factory=list)


Entries = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class ContentKind:
    name: str  # in URLs and the revisions table
    label: str
    file: str  # in the content directory
    schema: type[BaseModel]
    read: Callable[[Mapping[str, Any]], Entries]  # the file's entries by key
    write: Callable[[Mapping[str, Any], Entries], dict[str, Any]]  # the file with entries set
    fields: Callable[[dict[str, Any]], list[FormField]]
    preview: Callable[[dict[str, Any]], Preview]
    title: Callable[[str, dict[str, Any]], str]
    key_field: str | None = None  # set for kinds whose new entries get their key from a field
    has_verified: bool = True  # entries carry a "verified" mark


def mapping_entries(
    at: str,
) -> tuple[
    Callable[[Mapping[str, Any]], Entries], Callable[[Mapping[str, Any], Entries], dict[str, Any]]
]:
    """Entries kept as a mapping under `at` (faq.yml's `topics`)."""

    def read(data: Mapping[str, Any]) -> Entries:
        found = data.get(at) or {}
        return {str(k): dict(v) for k, v in found.items() if isinstance(v, dict)}

    def write(data: Mapping[str, Any], entries: Entries) -> dict[str, Any]:
        merged = dict(data)
        merged[at] = {**(data.get(at) or {}), **entries}
        return merged

    return read, write


def list_entries(
    at: str, id_field: str = "id"
) -> tuple[
    Callable[[Mapping[str, Any]], Entries], Callable[[Mapping[str, Any], Entries], dict[str, Any]]
]:
    """Entries kept as a list under `at`, each with an id (rumors.yml's `rumors`)."""

    def read(data: Mapping[str, Any]) -> Entries:
        return {
            str(item[id_field]): dict(item)
            for item in data.get(at) or []
            if isinstance(item, dict) and item.get(id_field)
        }

    def write(data: Mapping[str, Any], entries: Entries) -> dict[str, Any]:
        items = [
            entries.get(str(item.get(id_field)), item) if isinstance(item, dict) else item
            for item in data.get(at) or []
        ]
        known = {str(item.get(id_field)) for item in items if isinstance(item, dict)}
        items += [value for key, value in entries.items() if key not in known]
        return {**data, at: items}

    return read, write


# --- facts.yml: an entry is a group of values (hotlines.local, testing, links.moh, …) ----------

_RESERVED = ("verified", "fallback", "last_reviewed")


def _fact_groups(data: Mapping[str, Any], prefix: str = "", inherited: bool = False) -> Entries:
    groups: Entries = {}
    marker = data.get("verified")
    values = {
        k: str(v)
        for k, v in data.items()
        if k not in _RESERVED and not isinstance(v, dict) and not isinstance(v, bool)
    }
    if values and prefix:
        verified = [
            k
            for k in values
            if (marker is True)
            or (isinstance(marker, list) and k in marker)
            or (marker is None and inherited)
        ]
        fallback = data.get("fallback") if isinstance(data.get("fallback"), dict) else {}
        groups[prefix.rstrip(".")] = {
            "values": values,
            "verified": verified,
            "fallback": {k: str(v) for k, v in (fallback or {}).items()},
        }
    here = marker if isinstance(marker, bool) else inherited
    for key, value in data.items():
        if isinstance(value, dict) and key not in _RESERVED:
            groups |= _fact_groups(value, f"{prefix}{key}.", here)
    return groups


def _write_facts(data: Mapping[str, Any], entries: Entries) -> dict[str, Any]:
    merged = copy.deepcopy(dict(data))
    for path, group in entries.items():
        node: Any = merged
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue  # the group left the file since it was edited: nothing to set
        values = group.get("values") or {}
        for name, value in values.items():
            node[name] = value
        verified = [k for k in group.get("verified") or [] if k in values]
        node["verified"] = (
            True if values and len(verified) == len(values) else verified if verified else False
        )
        fallback = {k: v for k, v in (group.get("fallback") or {}).items() if v}
        if fallback:
            node["fallback"] = fallback
        else:
            node.pop("fallback", None)
    return merged


def _fact_fields(value: dict[str, Any]) -> list[FormField]:
    fields: list[FormField] = []
    for name in value.get("values") or {}:
        fields += [
            FormField(f"values.{name}", name, max_length=500),
            FormField(
                f"fallback.{name}",
                f"{name} — thay thế khi chưa xác minh",
                help="Người dân thấy câu này khi giá trị còn là ví dụ. Để trống: bỏ cả dòng.",
                max_length=500,
            ),
        ]
    choices = tuple((name, name) for name in value.get("values") or {})
    fields.append(
        FormField(
            "verified",
            "Đã xác minh (giá trị thật, được gửi cho người dân)",
            "checklist",
            choices=choices,
        )
    )
    return fields


def _fact_preview(value: dict[str, Any]) -> Preview:
    rows = []
    verified = set(value.get("verified") or [])
    for name, text in (value.get("values") or {}).items():
        if name in verified:
            shown = text
        elif fallback := (value.get("fallback") or {}).get(name):
            shown = render(fallback)
        else:
            shown = "— dòng dùng thông tin này bị bỏ khỏi câu trả lời"
        rows.append((name, text, shown))
    return Preview(rows=rows)


def _fact_title(key: str, value: dict[str, Any]) -> str:
    values = value.get("values") or {}
    return str(values.get("label") or values.get("name") or key)


# --- previews of texts -------------------------------------------------------------------------


def _text_preview(value: dict[str, Any]) -> Preview:
    template = str(value.get("text") or "")
    text = render(template)
    notes = []
    dropped = len([line for line in template.splitlines() if line.strip()]) - len(
        [line for line in text.splitlines() if line.strip()]
    )
    if dropped > 0:
        notes.append(
            f"{dropped} dòng dùng thông tin còn là ví dụ (chưa có thay thế) nên không được gửi."
        )
    if "verified" in value and not value.get("verified"):
        notes.append("Nội dung chưa được đánh dấu đã xác minh.")
    buttons = [str(b.get("title")) for b in value.get("buttons") or [] if isinstance(b, dict)]
    return Preview(text=text, buttons=buttons, notes=notes)


_VERIFIED = FormField(
    "verified", "Đã xác minh (cơ quan triển khai đã kiểm tra nội dung)", "checkbox"
)
_TEXT = FormField(
    "text",
    "Câu trả lời",
    "textarea",
    help="Tiếng Việt có dấu, tối đa 2.000 ký tự. Chỗ điền thông tin: {hotlines.emergency.number}.",
    max_length=4000,
)

_faq_read, _faq_write = mapping_entries("topics")
_rumor_read, _rumor_write = list_entries("rumors")
_canned_read, _canned_write = list_entries("replies")

# --- aid_programmes.yml: support programmes the bot answers for the resident's area -----------


class AidProgrammeEntry(AidProgramme):
    """A programme as the form sends it: the area as lines, "national" alone for the whole country."""

    @field_validator("area", mode="before")
    @classmethod
    def _national_line(cls, value: Any) -> Any:
        if isinstance(value, list) and [str(v).strip() for v in value] == [NATIONAL]:
            return NATIONAL
        return value

    @field_validator("valid_to", mode="before")
    @classmethod
    def _open_ended(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


_programme_read, _programme_write = list_entries("programmes")


def _programme_fields(_value: dict[str, Any]) -> list[FormField]:
    short = "tối đa 350 ký tự, để một chương trình vừa một tin nhắn"
    return [
        FormField(
            "id", "Mã", help="chữ thường không dấu, ví dụ: tro-cap-that-nghiep", fixed_on_edit=True
        ),
        FormField("name", "Tên chương trình", max_length=200),
        FormField("eligible", "Đối tượng", "textarea", help=short, max_length=350),
        FormField("benefit", "Mức hỗ trợ", "textarea", help=short, max_length=350),
        FormField("papers", "Giấy tờ cần có", "textarea", help=short, max_length=350),
        FormField("how", "Nộp ở đâu, thế nào", "textarea", help=short, max_length=350),
        FormField("valid_from", "Áp dụng từ ngày", help="YYYY-MM-DD, ví dụ 2026-01-01"),
        FormField(
            "valid_to", "Đến hết ngày", help="YYYY-MM-DD; bỏ trống: đến khi có thông báo mới"
        ),
        FormField(
            "area",
            "Khu vực áp dụng",
            "lines",
            help='Một dòng "national" cho toàn quốc, hoặc mỗi dòng một mã tỉnh/thành hay phường/xã',
        ),
        FormField("keywords", "Từ khóa", "lines", help="Cụm từ người dân hay dùng khi hỏi"),
        _VERIFIED,
    ]


def _programme_preview(value: dict[str, Any]) -> Preview:
    try:
        programme = AidProgrammeEntry.model_validate(value)
    except ValidationError:
        return Preview(notes=["Chưa xem trước được: nội dung chưa hợp lệ."])
    notes = [] if programme.verified else ["Nội dung chưa được đánh dấu đã xác minh."]
    return Preview(text=describe_programme(programme), notes=notes)


KINDS: dict[str, ContentKind] = {
    kind.name: kind
    for kind in (
        ContentKind(
            name="faq",
            label="Câu hỏi thường gặp",
            file="faq.yml",
            schema=FaqEntry,
            read=_faq_read,
            write=_faq_write,
            fields=lambda _value: [
                _TEXT,
                FormField(
                    "buttons",
                    "Nút bấm",
                    "pairs",
                    help="Mỗi dòng một nút: Tiêu đề | /ten_intent",
                ),
                FormField("sources", "Nguồn", "lines", help="Mỗi dòng một nguồn"),
                _VERIFIED,
            ],
            preview=_text_preview,
            title=lambda key, _value: key,
        ),
        ContentKind(
            name="rumors",
            label="Tin đồn",
            file="rumors.yml",
            schema=RumorEntry,
            read=_rumor_read,
            write=_rumor_write,
            fields=lambda _value: [
                FormField(
                    "id", "Mã", help="chữ thường không dấu, ví dụ: an_toi", fixed_on_edit=True
                ),
                FormField(
                    "keywords",
                    "Từ khóa",
                    "lines",
                    help="Mỗi dòng một từ khóa, chữ thường KHÔNG dấu, từ 2 từ trở lên",
                ),
                FormField(
                    "verdict",
                    "Kết luận",
                    "choice",
                    choices=(("false", "Tin sai"), ("partly", "Chưa chính xác"), ("true", "Đúng")),
                ),
                FormField("text", "Câu trả lời", "textarea", help=_TEXT.help, max_length=4000),
                FormField("source", "Nguồn", max_length=300),
                _VERIFIED,
            ],
            preview=_text_preview,
            title=lambda key, value: f"{key}: {str(value.get('text', ''))[:60]}…",
            key_field="id",
        ),
        ContentKind(
            name="canned_replies",
            label="Câu trả lời mẫu (tổng đài)",
            file="canned_replies.yml",
            schema=CannedReplyEntry,
            read=_canned_read,
            write=_canned_write,
            fields=lambda _value: [
                FormField(
                    "id", "Mã", help="chữ thường không dấu, ví dụ: chao_hoi", fixed_on_edit=True
                ),
                FormField("title", "Tiêu đề (nhân viên thấy)", max_length=60),
                FormField("text", "Nội dung", "textarea", help=_TEXT.help, max_length=4000),
            ],
            preview=_text_preview,
            title=lambda _key, value: str(value.get("title") or ""),
            key_field="id",
            has_verified=False,
        ),
        ContentKind(
            name="facts",
            label="Thông tin cố định (số điện thoại, địa điểm, giờ)",
            file="facts.yml",
            schema=FactGroup,
            read=_fact_groups,
            write=_write_facts,
            fields=_fact_fields,
            preview=_fact_preview,
            title=_fact_title,
        ),
        ContentKind(
            name=AID_PROGRAMMES_KIND,
            label="Chương trình hỗ trợ",
            file=AID_PROGRAMMES_FILE,
            schema=AidProgrammeEntry,
            read=_programme_read,
            write=_programme_write,
            fields=_programme_fields,
            preview=_programme_preview,
            title=lambda _key, value: str(value.get("name") or ""),
            key_field="id",
        ),
    )
}
KINDS_BY_FILE = {kind.file: kind for kind in KINDS.values()}


def is_verified(kind: ContentKind, value: dict[str, Any]) -> bool:
    """An entry's verified mark (a group of facts: every value verified)."""
    if kind.name == "facts":
        return set(value.get("verified") or []) >= set(value.get("values") or {})
    return bool(value.get("verified"))
