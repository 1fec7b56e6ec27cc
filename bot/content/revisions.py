"""Admins' content edits: saved as revisions in the database, laid over the shipped files.

Every process (web app, action server, on one machine or several) reads the newest revision of
each entry: the revisions are loaded once and checked again at most every `CHECK_SECONDS` with
one cheap query (the highest revision id and the count), so an edit reaches every reply within
seconds, without retraining or restarting anything.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.audit.service import record_audit
from bot.content.kinds import KINDS, KINDS_BY_FILE, ContentKind, FormField
from bot.content.models import ContentRevision
from bot.content.service import ContentError, _files
from bot.db import session as db_session
from bot.settings import get_settings
from bot.users.models import User
from bot.users.service import audit_actor

logger = logging.getLogger(__name__)

CHECK_SECONDS = 2.0
MAX_NOTE = 300


class ContentEditError(ValueError):
    """An edit that cannot be saved; `problems` say why, in Vietnamese, one per field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# --- the newest edits, shared by every reader of the process ----------------------------------


class _Edits:
    """The newest revision of every edited entry, re-read when the table changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._factory: object = None
        self._checked = float("-inf")
        self._version: tuple[int, int] | None = None
        self._latest: dict[str, dict[str, dict[str, Any]]] = {}
        self._merged: dict[str, tuple[int, tuple[int, int] | None, dict[str, Any]]] = {}
        self._warned = False

    def invalidate(self) -> None:
        with self._lock:
            self._checked = float("-inf")

    def latest(self) -> tuple[tuple[int, int] | None, dict[str, dict[str, dict[str, Any]]]]:
        factory = db_session.get_sessionmaker()
        with self._lock:
            fresh = factory is self._factory and time.monotonic() - self._checked < CHECK_SECONDS
            if fresh:
                return self._version, self._latest
        try:
            version, latest = self._read(factory)
        except SQLAlchemyError:
            # A database without the table yet (before `hotline migrate`): the files alone.
            if not self._warned:
                logger.warning("content edits could not be read; the content files are used")
                self._warned = True
            version, latest = None, {}
        with self._lock:
            self._factory, self._checked = factory, time.monotonic()
            if version != self._version or version is None:
                self._version, self._latest, self._merged = version, latest, {}
            return self._version, self._latest

    def _read(
        self, factory: sessionmaker[Session]
    ) -> tuple[tuple[int, int] | None, dict[str, dict[str, dict[str, Any]]]]:
        with factory() as session:
            session.connection(execution_options={"read_only": True})
            top, count = session.execute(
                select(func.max(ContentRevision.id), func.count(ContentRevision.id))
            ).one()
            version = (int(top or 0), int(count))
            if version == self._version and self._factory is factory:
                return version, self._latest
            newest = (
                select(func.max(ContentRevision.id))
                .group_by(ContentRevision.kind, ContentRevision.key)
                .scalar_subquery()
            )
            latest: dict[str, dict[str, dict[str, Any]]] = {}
            for kind, key, value in session.execute(
                select(ContentRevision.kind, ContentRevision.key, ContentRevision.value).where(
                    ContentRevision.id.in_(newest)
                )
            ):
                latest.setdefault(kind, {})[key] = value
            return version, latest

    def merged(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        kind = KINDS_BY_FILE.get(name)
        if kind is None:
            return data
        version, latest = self.latest()
        edits = latest.get(kind.name)
        if not edits:
            return data
        with self._lock:
            cached = self._merged.get(name)
            if cached and cached[0] == id(data) and cached[1] == version:
                return cached[2]
        merged = kind.write(data, edits)
        with self._lock:
            self._merged[name] = (id(data), version, merged)
        return merged


_edits = _Edits()


def with_edits(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """A content file's data with the newest admin edits laid over it."""
    return _edits.merged(name, data)


def forget_cached_edits() -> None:
    """Makes the next read check the database (after a save in this process)."""
    _edits.invalidate()


# --- reading entries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    kind: ContentKind
    key: str
    value: dict[str, Any]  # as residents get it now: the newest revision, else the file's
    shipped: dict[str, Any] | None  # the file's (None: added by an admin)
    revision: ContentRevision | None  # the newest revision, None: as shipped

    @property
    def title(self) -> str:
        return self.kind.title(self.key, self.value)


def get_kind(name: str) -> ContentKind | None:
    return KINDS.get(name)


def _shipped(kind: ContentKind) -> dict[str, dict[str, Any]]:
    return kind.read(_files.load(get_settings().content_dir / kind.file))


def _newest(*, session: Session, kind: ContentKind) -> dict[str, ContentRevision]:
    newest = (
        select(func.max(ContentRevision.id))
        .where(ContentRevision.kind == kind.name)
        .group_by(ContentRevision.key)
        .scalar_subquery()
    )
    rows = session.scalars(select(ContentRevision).where(ContentRevision.id.in_(newest)))
    return {row.key: row for row in rows}


def list_entries(*, session: Session, kind: ContentKind) -> list[Entry]:
    """The entries of a kind, the file's order first, then those added by admins."""
    shipped = _shipped(kind)
    revisions = _newest(session=session, kind=kind)
    keys = list(shipped) + sorted(k for k in revisions if k not in shipped)
    return [
        Entry(
            kind=kind,
            key=key,
            value=revisions[key].value if key in revisions else shipped[key],
            shipped=shipped.get(key),
            revision=revisions.get(key),
        )
        for key in keys
    ]


def get_entry(*, session: Session, kind: ContentKind, key: str) -> Entry | None:
    """One entry, or None when neither the file nor an edit has it."""
    shipped = _shipped(kind).get(key)
    revision = session.scalar(
        select(ContentRevision)
        .where(ContentRevision.kind == kind.name, ContentRevision.key == key)
        .order_by(ContentRevision.id.desc())
        .limit(1)
    )
    if shipped is None and revision is None:
        return None
    value = revision.value if revision is not None else shipped
    if value is None:
        raise RuntimeError("an entry without a value")
    return Entry(kind=kind, key=key, value=value, shipped=shipped, revision=revision)


# --- forms ------------------------------------------------------------------------------------


def _set(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _get(source: dict[str, Any], dotted: str) -> Any:
    node: Any = source
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def value_from_form(
    fields: list[FormField], form: dict[str, list[str]], *, base: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An entry's value from the posted form (keeps the base's keys the form does not show)."""
    value: dict[str, Any] = {k: v for k, v in (base or {}).items()}
    for f in fields:
        raw = form.get(f.name) or []
        first = (raw[0] if raw else "").replace("\r\n", "\n").strip()
        parsed: Any
        if f.widget == "checkbox":
            parsed = bool(raw)
        elif f.widget == "checklist":
            parsed = [item for item in raw if item]
        elif f.widget == "lines":
            parsed = [line.strip() for line in first.splitlines() if line.strip()]
        elif f.widget == "pairs":
            parsed = []
            for line in first.splitlines():
                if line.strip():
                    title, _, payload = line.partition("|")
                    parsed.append({"title": title.strip(), "payload": payload.strip()})
        else:
            parsed = first
        _set(value, f.name, parsed)
    return value


def form_from_value(fields: list[FormField], value: dict[str, Any]) -> dict[str, Any]:
    """What each input of the form shows for a value."""
    shown: dict[str, Any] = {}
    for f in fields:
        current = _get(value, f.name)
        if f.widget == "lines":
            shown[f.name] = "\n".join(str(item) for item in current or [])
        elif f.widget == "pairs":
            shown[f.name] = "\n".join(
                f"{b.get('title', '')} | {b.get('payload', '')}"
                for b in current or []
                if isinstance(b, dict)
            )
        elif f.widget in ("checkbox",):
            shown[f.name] = bool(current)
        elif f.widget == "checklist":
            shown[f.name] = [str(item) for item in current or []]
        elif f.widget == "choice" and isinstance(current, bool):
            shown[f.name] = "true" if current else "false"
        else:
            shown[f.name] = "" if current is None else str(current)
    return shown


_MESSAGES = {
    "missing": "bắt buộc",
    "string_too_short": "bắt buộc",
    "string_too_long": "tối đa {max_length} ký tự",
    "too_long": "tối đa {max_length} mục",
    "too_short": "cần ít nhất {min_length} mục",
    "string_pattern_mismatch": "không đúng dạng",
    "literal_error": "không phải một lựa chọn hợp lệ",
}


def validate_entry(
    kind: ContentKind, value: dict[str, Any], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """The entry checked against its kind's schema; ContentEditError lists what is wrong."""
    try:
        model = kind.schema.model_validate(value)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            top = str(error["loc"][0]) if error["loc"] else ""
            label = (labels or {}).get(where) or (labels or {}).get(top) or where or "Nội dung"
            if error["type"] == "value_error":
                message = str(error.get("ctx", {}).get("error", error["msg"]))
            else:
                template = _MESSAGES.get(error["type"], "không hợp lệ")
                message = template.format(**(error.get("ctx") or {}))
            problems.append(f"{label}: {message}")
        raise ContentEditError(problems) from None
    return model.model_dump(mode="json", exclude_none=True)


# --- saving, history, reverting ---------------------------------------------------------------


def _normalised(kind: ContentKind, value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A value as the schema writes it (defaults filled in), so comparisons see real changes
    only; a value the schema refuses (a file edited by hand) stays as it is."""
    if value is None:
        return None
    try:
        return kind.schema.model_validate(value).model_dump(mode="json", exclude_none=True)
    except (ValidationError, ValueError, ContentError):
        return value


def _changed_fields(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    before = before or {}
    names = []
    for name in dict.fromkeys([*before, *after]):
        old, new = before.get(name), after.get(name)
        if isinstance(old, dict) and isinstance(new, dict):
            names += [
                f"{name}.{k}" for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)
            ]
        elif old != new:
            names.append(name)
    return names


def save_entry(
    *,
    session: Session,
    kind: ContentKind,
    key: str,
    value: dict[str, Any],
    author: User,
    note: str = "",
    action: str = "content.edited",
) -> ContentRevision:
    """Validates and saves a new revision of one entry; it is what residents get from now on."""
    if kind.key_field:
        value = {**value, kind.key_field: key}
    labels = {f.name: f.label for f in kind.fields(value)}
    clean = validate_entry(kind, value, labels)
    current = get_entry(session=session, kind=kind, key=key)
    before = _normalised(kind, current.value) if current else None
    if before == clean:
        raise ContentEditError(["Không có thay đổi nào để lưu."])
    if len(note) > MAX_NOTE:
        raise ContentEditError([f"Ghi chú: tối đa {MAX_NOTE} ký tự"])
    revision = ContentRevision(
        kind=kind.name, key=key, value=clean, author_id=author.id, note=note.strip()
    )
    session.add(revision)
    session.flush()
    record_audit(
        session=session,
        actor=audit_actor(author),
        action=action,
        entity="content",
        entity_id=revision.id,
        detail={
            "kind": kind.name,
            "key": key,
            "fields": _changed_fields(before, clean),
        },
    )
    forget_cached_edits()
    return revision


def create_entry(
    *, session: Session, kind: ContentKind, value: dict[str, Any], author: User, note: str = ""
) -> ContentRevision:
    """Adds a new entry (a rumour, a canned reply) whose key is one of its fields."""
    if kind.key_field is None:
        raise ContentEditError([f"Không thể thêm mục mới vào {kind.label}."])
    key = str(value.get(kind.key_field) or "").strip()
    if get_entry(session=session, kind=kind, key=key) is not None:
        raise ContentEditError([f"Mã “{key}” đã có; chọn mã khác."])
    return save_entry(
        session=session,
        kind=kind,
        key=key,
        value=value,
        author=author,
        note=note,
        action="content.created",
    )


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class HistoryLine:
    revision: ContentRevision
    author: str
    changes: list[Change]


def _flat(value: dict[str, Any] | None) -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, item in (value or {}).items():
        if isinstance(item, dict):
            flat |= {f"{name}.{k}": str(v) for k, v in item.items()}
        elif isinstance(item, list):
            flat[name] = "\n".join(
                " | ".join(str(v) for v in x.values()) if isinstance(x, dict) else str(x)
                for x in item
            )
        else:
            flat[name] = "" if item is None else str(item)
    return flat


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[Change]:
    """The fields that differ between two values of an entry."""
    old, new = _flat(before), _flat(after)
    return [
        Change(name, old.get(name, ""), new.get(name, ""))
        for name in dict.fromkeys([*old, *new])
        if old.get(name, "") != new.get(name, "")
    ]


def history(*, session: Session, entry: Entry) -> list[HistoryLine]:
    """The revisions of an entry, newest first, each with who made it and what it changed."""
    rows = list(
        session.execute(
            select(ContentRevision, User.display_name, User.username)
            .outerjoin(User, User.id == ContentRevision.author_id)
            .where(ContentRevision.kind == entry.kind.name, ContentRevision.key == entry.key)
            .order_by(ContentRevision.id)
        )
    )
    lines = []
    before = _normalised(entry.kind, entry.shipped)
    for revision, name, username in rows:
        author = f"{name} ({username})" if username else "tài khoản đã xóa"
        lines.append(HistoryLine(revision, author, diff(before, revision.value)))
        before = revision.value
    return list(reversed(lines))


def revert(
    *, session: Session, entry: Entry, revision_id: int | None, author: User
) -> ContentRevision:
    """Makes an older revision (or, with None, the shipped file's entry) the current one."""
    if revision_id is None:
        if entry.shipped is None:
            raise ContentEditError(["Mục này không có trong tệp gốc."])
        value = entry.shipped
        note = "Khôi phục nội dung gốc trong tệp"
    else:
        old = session.get(ContentRevision, revision_id)
        if old is None or old.kind != entry.kind.name or old.key != entry.key:
            raise LookupError("no such revision of this entry")
        value = old.value
        note = f"Quay lại phiên bản #{old.id}"
    return save_entry(
        session=session,
        kind=entry.kind,
        key=entry.key,
        value=value,
        author=author,
        note=note,
        action="content.reverted",
    )
