"""The admin-editable content files: templates, reloads, rumour matching."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from bot.content.service import ContentError, check_content, fact, faq_answer, find_rumor, render
from bot.settings import PROJECT_ROOT


@pytest.fixture
def content(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "data" / "content", tmp_path / "content")
    return tmp_path / "content"


def test_shipped_content_is_usable_and_marked_as_examples(content: Path) -> None:
    assert check_content(content_dir=content) == []
    for name in ("facts.yml", "faq.yml", "rumors.yml"):
        assert "verified: false" in (content / name).read_text(encoding="utf-8")


def test_facts_fill_the_templates(content: Path) -> None:
    assert render("Gọi {hotlines.emergency.number}.", content_dir=content) == "Gọi 115."
    with pytest.raises(ContentError):
        render("{hotlines.nowhere.number}", content_dir=content)


def test_every_faq_topic_renders_without_leftover_braces(content: Path) -> None:
    for topic in (
        "ask_f0_home_care",
        "ask_testing",
        "ask_vaccination",
        "ask_travel_rules",
        "ask_return_home",
        "ask_hotline",
        "report_symptoms",
        "ask_rumor",
        "emergency",
    ):
        answer = faq_answer(topic, content_dir=content)
        assert answer.text
        assert "{" not in answer.text
        assert "}" not in answer.text


def test_an_edit_is_seen_without_restart(content: Path) -> None:
    assert fact("hotlines.moh.number", content_dir=content) == "1900 9095"
    path = content / "facts.yml"
    time.sleep(0.01)
    path.write_text(
        path.read_text(encoding="utf-8").replace("1900 9095", "1900 1234"), encoding="utf-8"
    )
    assert fact("hotlines.moh.number", content_dir=content) == "1900 1234"


@pytest.mark.parametrize(
    "text",
    [
        "uống nước chanh nóng diệt được virus đúng không",
        "UONG NUOC CHANH NONG DIET COVID",
        "5g lây covid có thật ko",
        "tiêm vắc xin làm thay đổi adn à",
    ],
)
def test_known_rumours_are_found_with_or_without_diacritics(content: Path, text: str) -> None:
    assert find_rumor(text, content_dir=content) is not None


@pytest.mark.parametrize(
    "text",
    [
        "tối nay ăn tối ở đâu",
        "tôi muốn hỏi về tiêm vắc xin",
        "nhà tôi hết gạo rồi",
        "chanh bao nhiêu tiền một ký",
        "mạng 5g ở phường tôi yếu quá",
    ],
)
def test_ordinary_sentences_are_not_taken_for_rumours(content: Path, text: str) -> None:
    assert find_rumor(text, content_dir=content) is None
