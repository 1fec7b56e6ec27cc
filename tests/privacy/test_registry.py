"""The one registry of personal data covers every table of the schema and every Redis key
the code writes: a new one fails here until it is listed (personal or not, and why)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bot.db.models  # noqa: F401  (every model on the metadata)
from bot.consents.service import CONSENT_TEXTS, RETENTION_MONTHS
from bot.db.base import Base
from bot.privacy.registry import (
    KEYS_WITHOUT_PERSONAL_DATA,
    NO_PERSONAL_DATA,
    PERSONAL_KEYS,
    PERSONAL_TABLES,
)
from bot.settings import PROJECT_ROOT, Settings

# Column names that mean a person: a table that has one cannot be declared "no personal data".
PERSONAL_COLUMNS = {"resident_id", "conversation_id", "phone", "full_name", "address_detail"}
# Redis client methods whose first argument is a key.
REDIS_KEY_METHODS = {
    "set", "get", "delete", "incr", "expire", "exists", "getdel", "hset", "hget", "hgetall",
    "xadd", "xrange", "lpush", "rpush", "sadd", "zadd", "publish",
}  # fmt: skip


def test_every_table_is_either_personal_or_declared_without_personal_data() -> None:
    personal = {entry.table for entry in PERSONAL_TABLES}
    declared = set(NO_PERSONAL_DATA) - {"alembic_version"}
    assert not personal & declared
    tables = set(Base.metadata.tables)
    missing = tables - personal - declared
    assert not missing, f"add to bot/privacy/registry.py: {sorted(missing)}"
    assert not (personal | declared) - tables, "the registry names a table that is gone"


def test_tables_declared_without_personal_data_have_no_personal_columns() -> None:
    for name in NO_PERSONAL_DATA:
        if name in Base.metadata.tables:
            columns = set(Base.metadata.tables[name].c.keys())
            assert not columns & PERSONAL_COLUMNS, name


def test_every_registry_entry_names_real_columns_and_comes_before_its_parent() -> None:
    order = [entry.table for entry in PERSONAL_TABLES]
    assert order[-1] == "residents"
    for entry in PERSONAL_TABLES:
        columns = Base.metadata.tables[entry.table].c
        assert entry.age_column in columns
        for owner in entry.owner.split("|"):
            column, _, parent = owner.partition("->")
            assert column in columns
            if parent:  # children are erased before the rows they belong to
                assert order.index(entry.table) < order.index(parent)


def _redis_key_prefixes(source: Path) -> set[str]:
    """The literal start of every key a module using Redis passes to a Redis method, or
    assigns to a name ending in `key` (e.g. `dedupe_key = f"turn:…"`)."""

    def prefix(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            first = node.values[0] if node.values else None
            return first.value if isinstance(first, ast.Constant) else ""
        return None

    code = source.read_text(encoding="utf-8")
    if "redis" not in code:
        return set()
    found = set()
    for node in ast.walk(ast.parse(code)):
        candidates: list[ast.expr] = []
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = ast.unparse(node.func.value)
            if node.func.attr in REDIS_KEY_METHODS and "redis" in owner.lower() and node.args:
                candidates.append(node.args[0])
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id.lower().endswith("key") for t in node.targets
        ):
            candidates.append(node.value)
        for candidate in candidates:
            text = prefix(candidate)
            if text is not None and ":" in text:
                found.add(text)
    return found


def test_every_redis_key_of_the_code_is_in_the_registry() -> None:
    known = [keys.pattern.split("{", 1)[0].rstrip("*") for keys in PERSONAL_KEYS] + list(
        KEYS_WITHOUT_PERSONAL_DATA
    )
    known = [k for k in known if k]
    unknown = {}
    for folder in ("bot", "connectors"):
        for source in (PROJECT_ROOT / folder).rglob("*.py"):
            for key in _redis_key_prefixes(source):
                if not any(key.startswith(k) or k.startswith(key) for k in known):
                    unknown[key] = str(source.relative_to(PROJECT_ROOT))
    assert not unknown, f"add these Redis keys to bot/privacy/registry.py: {unknown}"


def test_the_key_scan_sees_the_keys_it_must() -> None:
    """The scan above would pass on nothing at all; it must find the known personal keys."""
    found = set()
    for source in (PROJECT_ROOT / "bot").rglob("*.py"):
        found |= _redis_key_prefixes(source)
    for source in (PROJECT_ROOT / "connectors").rglob("*.py"):
        found |= _redis_key_prefixes(source)
    assert {"turn:", "zalo:choices:", "tg:payload:"} <= found


@pytest.mark.parametrize("purpose", sorted(CONSENT_TEXTS))
def test_the_retention_enforced_is_the_one_the_consent_text_promises(purpose: str) -> None:
    assert f"lưu tối đa {RETENTION_MONTHS} tháng" in CONSENT_TEXTS[purpose]
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.privacy_retention_months == RETENTION_MONTHS
