"""Verification of the Producer's webhook signatures (both documented schemes), in constant time.

Everything here takes hostile input: header values may hold any characters, timestamps any number of digits.
Nothing raises but :class:`SignatureError`.

The freshness rule: a current-scheme delivery is accepted when its timestamp is at most ``MAX_SKEW_S`` (300) seconds
away from our clock, in either direction, boundary included: exactly 300 s old is accepted, 300.001 s is not.
The older scheme (``X-Signature`` over the body alone) carries no timestamp; its replays are caught by the
delivery key (:func:`delivery_key`), which both schemes share.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

MAX_SKEW_S = 300  # the provider's documentation: reject timestamps more than ±5 minutes off (300 s still passes)
# Unix seconds: up to 12 ASCII digits (far past the year 9999). int() alone would accept "+1_0", Arabic-Indic
# digits and 4,000-digit numbers that overflow a float comparison.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX = re.compile(r"[0-9a-f]{64}")


class SignatureError(Exception):
    """The webhook is not authentic or too old. The text is for logs, never echoed with secrets."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The current scheme's ``X-Webhook-Signature`` value (used by the sandbox and by tests)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def sign_legacy(secret: str, body: bytes) -> str:
    """The older scheme's ``X-Signature`` value: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _hex_digest(value: str, *, prefix_required: bool) -> bytes:
    """The 64 lowercase hex characters of a signature header, as bytes; SignatureError when it is not one.

    ``hmac.compare_digest`` raises TypeError on non-ASCII str, so only checked ASCII bytes reach it.
    """
    text = value.strip()
    if not text.isascii():
        raise SignatureError("signature header is not ASCII")
    text = text.lower()
    if text.startswith("sha256="):
        text = text[len("sha256=") :]
    elif prefix_required:
        raise SignatureError("X-Webhook-Signature lacks the sha256= prefix")
    if not _HEX.fullmatch(text):
        raise SignatureError("signature is not 64 hex characters")
    return text.encode("ascii")


def verify(headers: Mapping[str, str], body: bytes, secret: str, *, now: float) -> None:
    """Accept the current scheme (timestamped) or the older ``X-Signature``; raise SignatureError otherwise."""
    signature = headers.get("X-Webhook-Signature")
    if signature is not None:
        raw_ts = headers.get("X-Webhook-Timestamp", "").strip()
        if not _TIMESTAMP.fullmatch(raw_ts):
            raise SignatureError("missing or malformed X-Webhook-Timestamp")
        timestamp = int(raw_ts)
        if abs(now - timestamp) > MAX_SKEW_S:
            raise SignatureError("stale webhook timestamp")
        given = _hex_digest(signature, prefix_required=True)
        expected = sign(secret, body, timestamp).removeprefix("sha256=").encode("ascii")
        if not hmac.compare_digest(given, expected):
            raise SignatureError("bad X-Webhook-Signature")
        return
    legacy = headers.get("X-Signature")
    if legacy is not None:
        # Some senders prefix the legacy value with "sha256=" too; both spellings are the same signature.
        given = _hex_digest(legacy, prefix_required=False)
        if not hmac.compare_digest(given, sign_legacy(secret, body).encode("ascii")):
            raise SignatureError("bad X-Signature")
        return
    raise SignatureError("unsigned webhook")


def delivery_key(task_id: str, event: str, body: bytes) -> str:
    """What makes two deliveries the same: the task, the event and the signed body.

    The ``X-Webhook-Id`` header is not covered by either signature, so a replay with a fresh id must not count as
    new; the body is covered by both. A provider's honest retry (same body, new timestamp) is the same delivery.
    """
    digest = hashlib.sha256()
    for part in (task_id.encode("utf-8", "surrogatepass"), event.encode("utf-8", "surrogatepass"), body):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed, so no two splits give the same bytes
        digest.update(part)
    return f"body-sha256:{digest.hexdigest()}"
