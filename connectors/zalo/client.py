"""zalo-sdk's OA client, with its gaps worked around.

zalo-sdk 0.3.0 is thin and synchronous. What we change, by subclassing (never patching it):
- it calls `requests.post/get` without a timeout (a stuck call would hold a worker thread for
  ever) and without connection reuse: `send_request` goes through one `requests.Session`
  with a timeout;
- it raises a bare `Exception("HTTP Error …")` for non-200 answers: `check_http_error` raises
  `ZaloHTTPError` with the status, so 429 and 5xx can be retried;
- its token refresh posts to a hard-coded https://oauth.zaloapp.com: we refresh with our own
  call instead (connectors/zalo/tokens.py), so the OAuth server is configurable and testable.
Calls run in worker threads (`asyncio.to_thread`) so the event loop never blocks.
"""

from __future__ import annotations

from typing import Any

import requests
import zalo_sdk.oa

TIMEOUT_SECONDS = (5, 15)  # connect, read


class ZaloHTTPError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class OAClient(zalo_sdk.oa.Client):  # type: ignore[misc]
    def __init__(self, *, session: requests.Session, endpoint_prefix: str, **kwargs: Any) -> None:
        super().__init__(endpoint_prefix=endpoint_prefix, **kwargs)
        self._session = session

    def send_request(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        files: Any = None,
    ) -> requests.Response:
        headers = headers or {}
        if method == "POST":
            return self._session.post(
                url, json=body or {}, files=files, headers=headers, timeout=TIMEOUT_SECONDS
            )
        if method == "GET":
            params = dict(params or {})
            if body is not None:
                import json

                params["data"] = json.dumps(body)
            return self._session.get(url, params=params, headers=headers, timeout=TIMEOUT_SECONDS)
        raise ValueError(f"unknown method {method}")

    def check_http_error(self, response: requests.Response) -> None:
        if response.status_code != 200:
            raise ZaloHTTPError(response.status_code)


def send_text(
    *, session: requests.Session, endpoint_prefix: str, access_token: str, user_id: str, text: str
) -> dict[str, Any]:
    """Sends one consultation message (v3 `message/cs`) to a user; raises SDK errors."""
    client = OAClient(
        session=session,
        endpoint_prefix=endpoint_prefix,
        app_id="",
        secret_key="",
        access_token=access_token,
    )
    body = zalo_sdk.oa.ZaloMessageBody(text=text)
    recipient = zalo_sdk.oa.ZaloRecipient(user_id=user_id)
    return dict(client.send_message(recipient, body=body, category="consultant"))
