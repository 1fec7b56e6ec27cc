"""Logging set-up: one format for every process; message texts are never logged."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO; the Rasa token travels in a query string.
    logging.getLogger("httpx").setLevel(logging.WARNING)
