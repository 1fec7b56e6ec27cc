"""The Rasa launcher, run in the rasa environment: action replies are judged as Rasa judges them."""

from __future__ import annotations

import pytest

from bot.settings import PROJECT_ROOT as ROOT
from bot.supervisor import process_specs
from bot.training import MODEL_PATH, RASA_PYTHON
from tests.nlu.in_rasa import run_in_rasa

# Each reply goes through Rasa's own check and then through the launcher's; both verdicts and
# error messages are printed side by side.
_SCRIPT = """
import json, sys
from rasa.core.actions.action import RemoteAction
from hotline_nlu.launch import install_action_result_validator

def verdict(check, reply):
    try:
        check(RemoteAction("action_x", None), reply)
        return "ok"
    except Exception as error:
        return f"{type(error).__name__}: {error.message}"

rasas = RemoteAction._validate_action_result
install_action_result_validator()
ours = RemoteAction._validate_action_result
assert ours is not rasas
print(json.dumps([[verdict(rasas, r), verdict(ours, r)] for r in json.loads(sys.stdin.read())]))
"""

REPLIES = [
    {"events": [], "responses": []},
    {
        "events": [
            {"event": "slot", "name": "requested_slot", "value": "phone"},
            {"event": "active_loop", "name": "aid_request_form"},
        ],
        "responses": [{"text": "Xin chào", "buttons": [{"title": "Có", "payload": "/affirm"}]}],
    },
    {"events": "not a list"},
    {"events": [{"event": "slot"}]},  # a slot event without its name
    {"events": [{"event": "no_such_event"}]},
    {"responses": [1, 2]},
    [],
]


def verdicts(replies: list[object]) -> list[list[str]]:
    return run_in_rasa(_SCRIPT, replies)


def test_the_prebuilt_validator_accepts_and_rejects_what_rasa_does_with_its_message():
    results = verdicts(REPLIES)
    for reply, (rasas, ours) in zip(REPLIES, results, strict=True):
        assert ours == rasas, reply
    assert [rasas == "ok" for rasas, _ in results] == [True, True] + [False] * 5
    assert "Failed to validate Action server response" in results[2][1]


def test_rasa_is_started_through_the_launcher():
    from bot.settings import get_settings

    (rasa,) = [spec for spec in process_specs(get_settings()) if spec.name == "rasa"]
    assert rasa.argv[:4] == [str(RASA_PYTHON), "-m", "hotline_nlu.launch", "run"]


# The shipped model loaded twice in one process, Rasa's way and the launcher's: every held-out
# message must get the same intent with the same confidence.
_LOAD_SCRIPT = """
import asyncio, json, logging, sys
logging.disable(logging.WARNING)
from rasa.core.agent import Agent
from rasa.shared.nlu.training_data.loading import load_data
from hotline_nlu.launch import install_inference_only_load

asked = json.loads(sys.stdin.read())
texts = [
    example.get("text")
    for path in asked["paths"]
    for example in load_data(path).intent_examples
][: asked["limit"]]

def parse_all(agent):
    results = [asyncio.run(agent.parse_message(text)) for text in texts]
    return [[r["intent"]["name"], r["intent"]["confidence"]] for r in results]

rasas = parse_all(Agent.load(asked["model"]))
install_inference_only_load()
print(json.dumps([texts, rasas, parse_all(Agent.load(asked["model"]))]))
"""


def test_a_model_loaded_without_a_training_step_answers_exactly_as_rasas_load():
    if not MODEL_PATH.exists():
        pytest.skip("no trained model (./dev train)")
    paths = [str(p) for p in sorted((ROOT / "tests" / "nlu").glob("heldout*_plain.yml"))]
    texts, rasas, ours = run_in_rasa(
        _LOAD_SCRIPT, {"model": str(MODEL_PATH), "paths": paths, "limit": 120}
    )
    assert len(ours) == len(texts) == 120
    for text, (intent, confidence), (our_intent, our_confidence) in zip(
        texts, rasas, ours, strict=True
    ):
        assert our_intent == intent, text
        assert our_confidence == pytest.approx(confidence, abs=1e-5), text
