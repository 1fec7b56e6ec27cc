"""The bot package meets the connectors in one wiring module only (no bot ↔ connectors cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WIRING = {"bot/channels/registry.py"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_channel_registry_imports_the_connectors() -> None:
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "bot").rglob("*.py")
        if str(path.relative_to(ROOT)) not in WIRING
        and any(name == "connectors" or name.startswith("connectors.") for name in _imports(path))
    )
    assert offenders == []


def test_the_connectors_do_not_import_the_wiring() -> None:
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "connectors").rglob("*.py")
        if "bot.channels.registry" in _imports(path)
    )
    assert offenders == []
