"""Producer webhook delivery: the signed POST of a task's final event, as the live service sends it."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

_TIMEOUT = aiohttp.ClientTimeout(total=10)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Current scheme: ``sha256=<hex HMAC-SHA256(secret, "{timestamp}." + body)>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def legacy_signature(secret: str, body: bytes) -> str:
    """Older scheme: hex HMAC-SHA256 of the raw body, in ``X-Signature``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST the sandbox made; ``status`` is None when the receiver could not be reached."""

    task_id: str
    event: str
    url: str
    webhook_id: str
    status: int | None


class WebhookSender:
    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        *,
        rewrite: tuple[str, str] | None = None,
        legacy_signatures: bool = False,
        duplicate: bool = False,
    ) -> None:
        self._session = session
        self.rewrite = rewrite
        self.legacy_signatures = legacy_signatures
        self.duplicate = duplicate
        self.deliveries: list[Delivery] = []

    def target(self, url: str) -> str:
        """Where a webhook really goes: the operator's proxy maps the public HTTPS prefix to a local one."""
        if self.rewrite and url.startswith(self.rewrite[0]):
            return self.rewrite[1] + url[len(self.rewrite[0]) :]
        return url

    async def send(self, url: str, secret: str | None, payload: dict[str, Any]) -> list[Delivery]:
        """POST ``payload`` (twice when ``duplicate``: same webhook id, as a retrying sender would)."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        webhook_id = str(uuid.uuid4())
        event = str(payload.get("event", ""))
        task_id = str(payload.get("task_id", ""))
        target = self.target(url)
        sent: list[Delivery] = []
        for _ in range(2 if self.duplicate else 1):
            timestamp = int(time.time())  # wall time: receivers reject stale timestamps against their own clock
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "tunesmith-sandbox/1",
                "X-Webhook-Id": webhook_id,
                "Idempotency-Key": webhook_id,
                "X-Webhook-Event": event,
                "X-Webhook-Timestamp": str(timestamp),
            }
            if secret:
                if self.legacy_signatures:
                    headers["X-Signature"] = legacy_signature(secret, body)
                else:
                    headers["X-Webhook-Signature"] = signature(secret, timestamp, body)
            status: int | None = None
            try:
                async with self._session().post(target, data=body, headers=headers, timeout=_TIMEOUT) as response:
                    status = response.status
                    await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("webhook %s for task %s to %s failed: %s", event, task_id, target, exc)
            else:
                if status >= 300:
                    log.warning("webhook %s for task %s to %s answered HTTP %s", event, task_id, target, status)
                else:
                    log.debug("webhook %s for task %s delivered to %s", event, task_id, target)
            delivery = Delivery(task_id, event, target, webhook_id, status)
            self.deliveries.append(delivery)
            sent.append(delivery)
        return sent
