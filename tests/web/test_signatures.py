"""Webhook signatures as a provider and an attacker meet them (issue 14: the survivors of mutation testing).

Expected signatures never come from the product's ``sign`` functions: they are fixtures computed once by hand with
``openssl dgst -sha256 -hmac`` and, for the rest, a second HMAC written here from RFC 2104 over ``hashlib.sha256``.
What is checked is what the sender sees: a genuine delivery in either scheme is accepted, anything else is refused
with :class:`SignatureError` (which the receiver answers with 401, checked over the wire at the end).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.domain.models import JobState
from bot.web.signatures import SignatureError, delivery_key, verify
from tests.web.test_webhooks import _completed, receiver

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
SECRET = "whsec-fixture-0001"
BODY = b'{"task_id":"t-42","event":"song.completed","data":[]}'
# printf '%s' '1767225600.<BODY>' | openssl dgst -sha256 -hmac whsec-fixture-0001
CURRENT_HEX = "7592833f0a3076e9266a350af0c3f5b8be608b62531bd03bce667c2a8bb5331c"
# printf '%s' '<BODY>' | openssl dgst -sha256 -hmac whsec-fixture-0001
LEGACY_HEX = "e9d1dd93c0eed16bde718753cef8140cbea8890be6c603cc118dff904f8baffb"


def hmac_sha256(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 as RFC 2104 defines it, written out (a second implementation, not the ``hmac`` module)."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + message).digest()
    return hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).hexdigest()


def current(body: bytes, timestamp: int | str, secret: str = SECRET) -> dict[str, str]:
    mac = hmac_sha256(secret.encode(), f"{timestamp}.".encode() + body)
    return {"X-Webhook-Timestamp": str(timestamp), "X-Webhook-Signature": f"sha256={mac}"}


def legacy(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Signature": hmac_sha256(secret.encode(), body)}


def accepted(headers: dict[str, str], body: bytes = BODY, *, now: float = NOW) -> bool:
    try:
        verify(headers, body, SECRET, now=now)
    except SignatureError:
        return False
    return True


def test_the_second_implementation_agrees_with_the_hand_computed_fixtures() -> None:
    assert current(BODY, NOW)["X-Webhook-Signature"] == f"sha256={CURRENT_HEX}"
    assert legacy(BODY)["X-Signature"] == LEGACY_HEX
    # printf '%s' hello | openssl dgst -sha256 -hmac "$(printf 'k%.0s' $(seq 100))": a key longer than a block
    assert hmac_sha256(b"k" * 100, b"hello") == "3fd578d761a4f6703009e92d2e8a0aea22ab9ab50d4ad250dc95d8c369dec3f5"


# --- genuine deliveries are accepted ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Webhook-Timestamp": str(NOW), "X-Webhook-Signature": f"sha256={CURRENT_HEX}"},
        {"X-Webhook-Timestamp": str(NOW), "X-Webhook-Signature": f"SHA256={CURRENT_HEX.upper()}"},
        {"X-Signature": LEGACY_HEX},
        {"X-Signature": LEGACY_HEX.upper()},
        {"X-Signature": f"sha256={LEGACY_HEX}"},  # some senders prefix the legacy value too
        # both headers: the current scheme is the one checked
        {"X-Webhook-Timestamp": str(NOW), "X-Webhook-Signature": f"sha256={CURRENT_HEX}", "X-Signature": "0" * 64},
    ],
    ids=["current", "current-upper", "legacy", "legacy-upper", "legacy-prefixed", "both"],
)
def test_a_genuine_delivery_is_accepted(headers: dict[str, str]) -> None:
    assert accepted(headers)


def test_header_values_with_surrounding_spaces_are_the_same_values() -> None:
    # HTTP allows spaces around a field value; a receiver that passes them on must not refuse the delivery.
    assert accepted({"X-Webhook-Timestamp": f" {NOW} ", "X-Webhook-Signature": f" sha256={CURRENT_HEX} "})
    assert accepted({"X-Signature": f" {LEGACY_HEX}\t"})


# --- what each scheme covers --------------------------------------------------------------------------------------


def test_the_legacy_signature_covers_the_body() -> None:
    other = b'{"task_id":"t-42","event":"song.failed","data":[]}'
    assert not accepted(legacy(BODY), other)  # a genuine signature moved onto another body
    assert not accepted(legacy(b""), other)  # a signature of nothing
    assert accepted(legacy(other), other)


def test_the_current_signature_covers_timestamp_and_body() -> None:
    signature = current(BODY, NOW)["X-Webhook-Signature"]
    assert not accepted({"X-Webhook-Timestamp": str(NOW - 1), "X-Webhook-Signature": signature})
    assert not accepted(current(BODY, NOW), BODY + b" ")
    # signed over the body alone, or without the dot, is not the current scheme
    body_only = "sha256=" + hmac_sha256(SECRET.encode(), BODY)
    no_dot = "sha256=" + hmac_sha256(SECRET.encode(), str(NOW).encode() + BODY)
    for value in (body_only, no_dot):
        assert not accepted({"X-Webhook-Timestamp": str(NOW), "X-Webhook-Signature": value})


def test_the_secret_is_the_servers() -> None:
    assert not accepted(current(BODY, NOW, secret="whsec-someone-else"))
    assert not accepted(legacy(BODY, secret="whsec-someone-else"))


def test_the_current_scheme_needs_its_prefix_the_legacy_one_does_not() -> None:
    assert not accepted({"X-Webhook-Timestamp": str(NOW), "X-Webhook-Signature": CURRENT_HEX})
    assert not accepted({"X-Webhook-Timestamp": str(NOW), "X-Webhook-Signature": f"sha1={CURRENT_HEX}"})
    assert accepted({"X-Signature": LEGACY_HEX})


# --- freshness ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "ok"),
    [
        (NOW, True),
        (NOW + 300, True),  # exactly 300 s old: accepted
        (NOW - 300, True),  # 300 s in the future: accepted
        (NOW + 300.5, False),
        (NOW - 300.5, False),
        (NOW + 301, False),
        (NOW - 301, False),
        (NOW + 86_400, False),
    ],
)
def test_the_300_second_window(now: float, ok: bool) -> None:
    assert accepted(current(BODY, NOW), now=now) is ok


@pytest.mark.parametrize(
    "timestamp",
    [None, "", " ", "soon", "+1767225600", "1767225600.0", "-1", "1_767_225_600", "١٧٦٧٢٢٥٦٠٠", "9" * 13, "9" * 400],
)
def test_a_missing_or_malformed_timestamp_is_refused(timestamp: str | None) -> None:
    headers = {"X-Webhook-Signature": current(BODY, NOW)["X-Webhook-Signature"]}
    if timestamp is not None:
        headers = current(BODY, timestamp)  # correctly signed: only the timestamp is wrong
    with pytest.raises(SignatureError):  # never another exception (the receiver would not answer 401)
        verify(headers, BODY, SECRET, now=NOW)


def test_the_largest_timestamp_is_judged_by_age_not_refused_as_malformed() -> None:
    far = 999_999_999_999  # twelve digits, the most a timestamp may have
    assert accepted(current(BODY, far), now=far)


# --- hostile signature values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha256=",
        "sha256=" + "é" * 64,
        "sha256=" + CURRENT_HEX[:-1],
        "sha256=" + CURRENT_HEX + "0",
        "sha256=" + "g" * 64,
        "sha256=" + CURRENT_HEX[:32] + "\u0660" * 32,
        "sha256=sha256=" + CURRENT_HEX,
    ],
)
def test_hostile_current_signatures_are_refused_cleanly(value: str) -> None:
    with pytest.raises(SignatureError):
        verify({"X-Webhook-Timestamp": str(NOW), "X-Webhook-Signature": value}, BODY, SECRET, now=NOW)


@pytest.mark.parametrize(
    "value", ["", "ünïcödé", LEGACY_HEX[:-1], "sha256=" + "é" * 64, "x" * 64, "sha1=" + LEGACY_HEX]
)
def test_hostile_legacy_signatures_are_refused_cleanly(value: str) -> None:
    with pytest.raises(SignatureError):
        verify({"X-Signature": value}, BODY, SECRET, now=NOW)


def test_an_unsigned_delivery_is_refused() -> None:
    for headers in ({}, {"X-Webhook-Timestamp": str(NOW)}, {"X-Webhook-Id": "evt-1"}):
        with pytest.raises(SignatureError):
            verify(headers, BODY, SECRET, now=NOW)


# --- the delivery key (replays) -----------------------------------------------------------------------------------


def test_the_delivery_key_is_the_same_for_the_same_signed_delivery() -> None:
    assert delivery_key("t-42", "song.completed", BODY) == delivery_key("t-42", "song.completed", BODY)


def test_the_delivery_key_tells_deliveries_apart() -> None:
    key = delivery_key("t-42", "song.completed", BODY)
    same_length_body = BODY.replace(b"t-42", b"t-43")
    assert len(same_length_body) == len(BODY)
    others = {
        delivery_key("t-43", "song.completed", BODY),
        delivery_key("t-42", "song.completex", BODY),
        delivery_key("t-42", "song.completed", same_length_body),
        # the same bytes split differently between the parts
        delivery_key("t-42s", "ong.completed", BODY),
        delivery_key("t-42", "song.completed" + BODY[:1].decode(), BODY[1:]),
    }
    assert key not in others and len(others) == 5


def test_the_delivery_key_takes_any_text_an_event_can_hold() -> None:
    # JSON may carry a lone surrogate ("\\ud800"); a signed body with one must be judged, not crash the receiver.
    assert delivery_key("t-42", "\ud800", BODY) != delivery_key("t-42", "\ud801", BODY)


# --- over the wire: what the provider and an attacker see ---------------------------------------------------------


async def test_over_the_wire_forged_and_stale_deliveries_get_401_and_a_genuine_one_finishes_the_job(
    db_path: Path,
) -> None:
    async with receiver(db_path, now=NOW) as rx:
        job_id, task_id, secret = await rx.submitted()
        body = _completed(task_id)
        other = _completed(task_id, title="Forged")
        refused = [
            legacy(body, secret),  # a legacy signature of another body
            current(body, NOW, secret) | {"X-Webhook-Timestamp": str(NOW + 1)},
            {"X-Webhook-Signature": current(body, NOW, secret)["X-Webhook-Signature"]},  # no timestamp
            current(body, NOW - 301, secret),
            {"X-Webhook-Timestamp": str(NOW), "X-Webhook-Signature": "sha256=" + "é" * 64},
        ]
        for n, headers in enumerate(refused):
            answer = await rx.post(job_id, other if n == 0 else body, headers)
            assert (answer.status_code, answer.json()) == (401, {"error": "invalid signature"}), n
        assert (await rx.rig.job(job_id)).state is not JobState.SUCCEEDED
        answer = await rx.post(job_id, body, current(body, NOW - 300, secret))
        assert (answer.status_code, answer.json()) == (200, {"ok": True})
        await rx.rig.notifier.wait_for(1)
        assert [res.cards[0].track.title for res in rx.rig.notifier.succeeded] == ["Hooked"]
