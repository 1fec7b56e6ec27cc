"""Example values of the content files never reach residents, and production refuses them."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import ValidationError

from bot.content.service import (
    FACTS_USED_BY_CODE,
    example_content_in_use,
    example_facts,
    fact,
    faq_answer,
    find_rumor,
    render,
)
from bot.settings import PROJECT_ROOT, Settings
from tests.e2e.conftest import free_port

REAL = {"rasa_token": "r" * 32, "secret_key": "s" * 32, "action_server_token": "a" * 32}


@pytest.fixture
def content(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "data" / "content", tmp_path / "content")
    return tmp_path / "content"


def _load(path: Path) -> dict:
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def _every_reply_text(content: Path) -> list[str]:
    """Every FAQ answer, every rumour rebuttal and every fact the code puts in a reply."""
    topics = _load(content / "faq.yml")["topics"]
    rumors = _load(content / "rumors.yml")["rumors"]
    return (
        [faq_answer(topic, content_dir=content).text for topic in topics]
        + [render(rumor["text"], content_dir=content) for rumor in rumors]
        + [fact(path, content_dir=content) for path in FACTS_USED_BY_CODE]
    )


def test_no_example_value_is_in_any_reply_made_from_the_shipped_content(content: Path) -> None:
    examples = [f.value for f in example_facts(content_dir=content)]
    assert "0000 000 000" in examples  # the placeholder residents were once told to call
    for text in _every_reply_text(content):
        assert "{" not in text
        assert "(ví dụ)" not in text
        for value in examples:
            assert value not in text


def test_the_local_hotline_falls_back_to_the_national_health_line(content: Path) -> None:
    assert fact("hotlines.local.number", content_dir=content) == "1900 9095"
    hotlines = faq_answer("ask_hotline", content_dir=content).text
    assert "115" in hotlines
    assert "113" in hotlines
    assert "114" in hotlines
    assert "1900 9095" in hotlines
    assert "địa phương" not in hotlines  # the example local line is left out, not guessed


def test_a_verified_local_number_is_shown(content: Path) -> None:
    programmes = content / "aid_programmes.yml"
    programmes.write_text(
        programmes.read_text(encoding="utf-8").replace("verified: false", "verified: true"),
        encoding="utf-8",
    )
    path = content / "facts.yml"
    facts = _load(path)
    facts["hotlines"]["local"].update(number="0236 3822 111", verified=True)
    facts["hotlines"]["local"]["label"] = "Tổng đài hỗ trợ của phường"
    facts["hotlines"]["local"]["hours"] = "7:00–21:00 hằng ngày"
    path.write_text(yaml.safe_dump(facts, allow_unicode=True), encoding="utf-8")
    assert fact("hotlines.local.number", content_dir=content) == "0236 3822 111"
    assert "0236 3822 111" in faq_answer("ask_hotline", content_dir=content).text


def test_a_group_can_list_its_verified_values(content: Path) -> None:
    facts = _load(content / "facts.yml")
    assert facts["testing"]["verified"] == ["self_test_note"]
    assert "nhà thuốc" in fact("testing.self_test_note", content_dir=content)
    assert fact("testing.location", content_dir=content) == "trạm y tế phường/xã nơi bạn cư trú"
    assert "Ví Dụ" not in faq_answer("ask_testing", content_dir=content).text


def test_the_code_asks_only_for_facts_it_declares() -> None:
    """`hotline content check` and the production start check FACTS_USED_BY_CODE: a fact the
    code uses without declaring it would slip past both."""
    used = set()
    for folder in ("actions", "bot", "connectors"):
        for source in (PROJECT_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", None)) == "fact"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    used.add(node.args[0].value)
    assert used
    assert used <= set(FACTS_USED_BY_CODE), used - set(FACTS_USED_BY_CODE)


def test_production_refuses_example_content_and_names_it(content: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, env="production", content_dir=content, **REAL)  # type: ignore[call-arg]
    message = str(refused.value)
    assert "hotlines.local.number = '0000 000 000'" in message
    assert "testing.address" in message
    assert "faq.yml" in message
    # Outside production the same content is served (with its fallbacks).
    Settings(_env_file=None, env="development", content_dir=content)  # type: ignore[call-arg]


def _verify_everything(content: Path) -> None:
    for name in ("faq.yml", "rumors.yml"):
        path = content / name
        path.write_text(
            path.read_text(encoding="utf-8").replace("verified: false", "verified: true", 1),
            encoding="utf-8",
        )
    programmes = content / "aid_programmes.yml"
    programmes.write_text(
        programmes.read_text(encoding="utf-8").replace("verified: false", "verified: true"),
        encoding="utf-8",
    )
    path = content / "facts.yml"
    facts = _load(path)
    for group in ("hotlines.local", "testing", "vaccination", "support"):
        node = facts
        for part in group.split("."):
            node = node[part]
        node["verified"] = True
    path.write_text(yaml.safe_dump(facts, allow_unicode=True), encoding="utf-8")


def test_production_starts_once_the_content_is_verified(content: Path) -> None:
    _verify_everything(content)
    assert example_content_in_use(content_dir=content) == []
    settings = Settings(_env_file=None, env="production", content_dir=content, **REAL)  # type: ignore[call-arg]
    assert settings.env == "production"


def _production_env(content: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ENV": "production",
        "RASA_TOKEN": "r" * 32,
        "SECRET_KEY": "s" * 32,
        "ACTION_SERVER_TOKEN": "a" * 32,
        "CONTENT_DIR": str(content),
    }


def test_the_web_app_refuses_to_start_in_production_with_example_content(content: Path) -> None:
    start = "from bot.web.app import create_app; create_app()"
    env = _production_env(content)
    run = [sys.executable, "-c", start]
    refused = subprocess.run(run, env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert refused.returncode != 0
    assert "hotlines.local.number" in refused.stderr
    _verify_everything(content)
    started = subprocess.run(run, env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert started.returncode == 0, started.stderr


def test_the_action_server_refuses_to_start_in_production_with_example_content(
    content: Path,
) -> None:
    port = free_port()
    env = {**_production_env(content), "ACTION_SERVER_URL": f"http://127.0.0.1:{port}"}
    run = [sys.executable, "-m", "bot.actionserver"]
    refused = subprocess.run(
        run, env=env, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120
    )
    assert refused.returncode != 0
    assert "hotlines.local.number" in refused.stderr
    _verify_everything(content)
    server = subprocess.Popen(
        run, env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break  # listening (any answer: /health wants the token)
            except httpx.TransportError:
                time.sleep(0.2)
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr:
            server.stderr.close()


def test_rumour_rebuttals_use_no_example(content: Path) -> None:
    answer = find_rumor("uống nước chanh nóng diệt được virus", content_dir=content)
    assert answer is not None
    assert "moh.gov.vn" in answer.text


def test_content_check_lists_the_examples_and_fails_in_production(
    content: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from bot.cli import app
    from bot.settings import get_settings

    monkeypatch.setenv("CONTENT_DIR", str(content))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        listed = runner.invoke(app, ["content", "check"])
        assert listed.exit_code == 0, listed.output
        assert "example: facts.yml hotlines.local.number = '0000 000 000'" in listed.output
        monkeypatch.setenv("ENV", "production")
        monkeypatch.setenv("RASA_TOKEN", "r" * 32)
        monkeypatch.setenv("SECRET_KEY", "s" * 32)
        monkeypatch.setenv("ACTION_SERVER_TOKEN", "a" * 32)
        get_settings.cache_clear()
        refused = runner.invoke(app, ["content", "check"])
        assert refused.exit_code == 1
        assert "hotlines.local.number" in refused.output
    finally:
        get_settings.cache_clear()


def test_example_programmes_are_listed_and_block_production(content: Path) -> None:
    examples = example_content_in_use(content_dir=content)
    assert "aid_programmes.yml tro-cap-that-nghiep (example, not verified)" in examples
    _verify_everything(content)
    assert example_content_in_use(content_dir=content) == []
