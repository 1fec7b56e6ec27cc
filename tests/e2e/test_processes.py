"""The real stack's processes: the action server answers only Rasa, and when it is killed (as
the OOM killer would) it comes back while residents are told the system is busy."""

from __future__ import annotations

import os
import signal
import time

import httpx

from tests.e2e.conftest import LiveStack, say


def test_the_action_server_refuses_calls_without_rasa_s_token(live_stack: LiveStack) -> None:
    url = f"{live_stack.settings.action_server_url}/webhook"
    forged = {"next_action": "action_delete_my_data", "tracker": {"sender_id": "web:someone"}}
    assert httpx.post(url, json=forged, timeout=10).status_code == 401
    assert httpx.post(url, json=forged, params={"token": "guess"}, timeout=10).status_code == 401


def test_a_killed_action_server_is_restarted_and_residents_hear_the_system_is_busy(
    live_stack: LiveStack,
) -> None:
    specs = {s.name: s for s in live_stack.supervisor.specs}
    others = {name: specs[name].process for name in ("rasa", "web")}
    killed = specs["actions"].process
    assert killed is not None

    os.kill(killed.pid, signal.SIGKILL)

    with live_stack.chat() as client:
        busy = say(client, "cho tôi xem thông tin của tôi")
        assert "hệ thống đang bận" in busy[0]["text"] and "115" in busy[0]["text"]

        health = f"{live_stack.settings.action_server_url}/health"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if specs["actions"].process is not killed and httpx.get(health).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError(
                "the action server was not restarted:\n" + live_stack.logs()[-3000:]
            )

        # The same message now goes through Rasa and the restarted action server.
        answer = say(client, "cho tôi xem thông tin của tôi")
        assert "hệ thống đang bận" not in answer[0]["text"]
        assert "không lưu" in answer[0]["text"] or "đang lưu" in answer[0]["text"]
    # Rasa and the web app kept serving all along: the same processes.
    assert {name: specs[name].process for name in ("rasa", "web")} == others
