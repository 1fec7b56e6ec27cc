"""Keeps residents' words out of the Rasa server's log (runs inside Rasa).

Rasa 3.6 logs some events with the message itself: when a turn fails (its tracker or lock
store unreachable, e.g. Redis down) the REST channel logs `rest.message.received.failure` at
ERROR with `text=<the resident's message>`, and the traceback it adds is rendered with every
frame's local variables (the message, the tracker, the slots). Rasa's own `_anonymizer` only
acts when an anonymisation plugin is installed, which open-source Rasa does not have.

`keep_personal_data_out_of_logs()` puts one processor first in Rasa's structlog chain (the
tracker store calls it when Rasa creates it, after Rasa configured its logging): it replaces
the values of the keys that carry what a resident said or what was understood of it, and
renders a traceback as frames and exception types only (no locals, no exception message,
which may quote the input).
"""

from __future__ import annotations

import sys
import traceback
from types import TracebackType
from typing import Any

import structlog

MASK = "[hidden]"
# The keys Rasa's `_anonymizer` would hand an anonymisation plugin (rasa/utils/log_utils.py),
# and a few more that carry a tracker or a message.
MASKED_KEYS = frozenset(
    {
        "text",
        "response_text",
        "user_text",
        "slot_values",
        "parse_data_text",
        "parse_data_entities",
        "prediction_events",
        "tracker_latest_message",
        "prefilled_slots",
        "message",
        "response",
        "slot_candidates",
        "rasa_event",
        "rasa_events",
        "tracker_states",
        "current_states",
        "old_states",
        "successes",
        "current_entity",
        "next_entity",
        "states",
        "entity",
        "token_text",
        "user_message",
        "json_message",
        "tracker",
        "events",
        "metadata",
    }
)


def mask_personal_data(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: no message text, slot value or traceback locals pass it."""
    for key in MASKED_KEYS.intersection(event_dict):
        event_dict[key] = MASK
    exc_info = event_dict.get("exc_info")
    if exc_info:
        # False, not removed: later processors would add the exception back (with locals).
        event_dict["exc_info"] = False
        event_dict["exception"] = describe_exception(exc_info)
    return event_dict


def describe_exception(exc_info: Any) -> str:
    """Where an exception was raised and what type it was, through its causes; not what it
    says (`KeyError('<slot value>')`, a parse error quoting the input)."""
    error = _exception(exc_info)
    if error is None:
        return "(no exception)"
    lines: list[str] = []
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        lines += _frames(error.__traceback__)
        lines.append(f"{type(error).__module__}.{type(error).__qualname__}")
        error = error.__cause__ or error.__context__
        if error is not None:
            lines.append("raised while handling:")
    return "\n".join(lines)


def _exception(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1] if isinstance(exc_info[1], BaseException) else None
    return sys.exc_info()[1]  # exc_info=True: the exception being handled


def _frames(tb: TracebackType | None) -> list[str]:
    return [
        f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}'
        for frame in traceback.extract_tb(tb)
    ]


def keep_personal_data_out_of_logs() -> None:
    """Puts `mask_personal_data` first in the running structlog configuration (once).

    The list is changed in place: loggers Rasa already bound hold the same list object, so
    they are covered too (`structlog.configure` would give only new loggers the new list).
    """
    processors = structlog.get_config()["processors"]
    if mask_personal_data not in processors:
        processors.insert(0, mask_personal_data)
