"""Verification of the Producer's webhook signatures (both documented schemes), in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

MAX_SKEW_S = 300  # providers.md: reject timestamps more than ±5 minutes off


class SignatureError(Exception):
    """The webhook is not authentic or too old. The text is for logs, never echoed with secrets."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The current scheme's ``X-Webhook-Signature`` value (used by the sandbox and by tests)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def sign_legacy(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(headers: Mapping[str, str], body: bytes, secret: str, *, now: float) -> None:
    """Accept the current scheme (timestamped) or the older ``X-Signature``; raise SignatureError otherwise."""
    signature = headers.get("X-Webhook-Signature")
    if signature is not None:
        raw_ts = headers.get("X-Webhook-Timestamp", "")
        try:
            timestamp = int(raw_ts)
        except ValueError:
            raise SignatureError("missing or malformed X-Webhook-Timestamp") from None
        if abs(now - timestamp) > MAX_SKEW_S:
            raise SignatureError("stale webhook timestamp")
        if not hmac.compare_digest(signature.strip().lower(), sign(secret, body, timestamp)):
            raise SignatureError("bad X-Webhook-Signature")
        return
    legacy = headers.get("X-Signature")
    if legacy is not None:
        if not hmac.compare_digest(legacy.strip().lower().removeprefix("sha256="), sign_legacy(secret, body)):
            raise SignatureError("bad X-Signature")
        return
    raise SignatureError("unsigned webhook")
