"""Zalo OA webhook signature.

Zalo signs each event with `X-ZEvent-Signature: mac=<hex>`, where hex is the SHA-256 (a plain
digest, not an HMAC) of: app id + the raw JSON body + the `timestamp` field of that body +
the OA secret key (the OA's key for this app, not the app secret). Source: Zalo OA webhook
docs ("Xác thực sự kiện webhook"), read on 2026-11-26.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-ZEvent-Signature"


def compute_mac(*, app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    digest = hashlib.sha256()
    digest.update(app_id.encode())
    digest.update(body)
    digest.update(timestamp.encode())
    digest.update(oa_secret_key.encode())
    return digest.hexdigest()


def signature_header(*, app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    return "mac=" + compute_mac(
        app_id=app_id, body=body, timestamp=timestamp, oa_secret_key=oa_secret_key
    )


def verify(header: str, *, app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> bool:
    """True when the header is the event's valid signature (compared in constant time)."""
    given = header.strip()
    if given.startswith("mac="):
        given = given[4:]
    expected = compute_mac(
        app_id=app_id, body=body, timestamp=timestamp, oa_secret_key=oa_secret_key
    )
    return hmac.compare_digest(given.lower().encode(), expected.encode())
