"""HTTP plumbing shared by the provider clients: one JSON call with error mapping, retries and key redaction.

Every error a provider can answer ends up as a :class:`ProviderError` whose ``str()`` a member may read; the API
key never appears in a log line, an exception text or a repr (``redact`` is applied to every provider text used).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import aiohttp.abc
import httpx
from httpx_aiohttp import AiohttpTransport, HttpxAiohttpClient
from pydantic import SecretStr

from bot.domain.errors import ErrorKind, ProviderError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class _NoCookies(httpx.Cookies):
    """Never stores what a response sets, so nothing is ever sent back."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)

# The longest ``Retry-After`` honoured (TUNESMITH_MAX_RETRY_AFTER): one hostile or buggy answer of a million seconds
# must not stop every poll for days. A longer value is cut to this; a meaningless one (nan, negative) is ignored.
DEFAULT_MAX_RETRY_AFTER = 60.0


class ProviderHttpClient(HttpxAiohttpClient):
    """httpx's API over aiohttp's transport (which discord.py already brings), with no cookie jar in either.

    The provider APIs authenticate with a key in a header: a cookie one of them sets must not ride along on later
    calls. Skipping httpx's cookie bookkeeping also saves about a tenth of the client's CPU per request.
    """

    _no_cookies = _NoCookies()

    def __init__(
        self,
        *,
        limits: httpx.Limits = _DEFAULT_LIMITS,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        **kwargs: Any,
    ) -> None:
        # Carried by the client so every JsonApi built on it (one per provider) honours the operator's cap.
        self.max_retry_after = _valid_cap(max_retry_after)
        if "transport" not in kwargs:
            transport = AiohttpTransport(limits=limits, verify=verifying_context())
            # aiohttp keeps cookies of its own: its session gets a jar that keeps nothing.
            # ``resolver``: every host name is resolved (and may be refused) there, and aiohttp connects to exactly
            # the addresses it returns (the file fetcher's guard against private addresses and DNS rebinding).
            transport.client = functools.partial(_cookieless_session, transport.ssl_context, limits, resolver)
            kwargs["transport"] = transport
        super().__init__(limits=limits, **kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, value: object) -> None:
        raise TypeError("provider calls carry no cookies")


@functools.cache
def verifying_context() -> ssl.SSLContext:
    """The certificate-verifying TLS context every HTTP client of this process shares.

    Reading the CA bundle costs about 30 ms of CPU: once per process, not once per client (the bot makes one per
    provider and one for files, tools and tests make more). An SSLContext is safe to share between connections."""
    return httpx.create_ssl_context()


def _cookieless_session(
    ssl_context: ssl.SSLContext, limits: httpx.Limits, resolver: aiohttp.abc.AbstractResolver | None = None
) -> aiohttp.ClientSession:
    # Made on first use, inside the running loop, as aiohttp requires.
    connector = aiohttp.TCPConnector(
        limit=limits.max_connections or 0,
        keepalive_timeout=limits.keepalive_expiry if limits.keepalive_expiry is not None else 15.0,
        ssl=ssl_context,
        resolver=resolver,
        # With a guarding resolver, no answer is reused from a cache it did not see.
        use_dns_cache=resolver is None,
    )
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


MESSAGE_MAX = 300
REDACTED = "***"  # no key contains "*", so a replacement can never form a key with its neighbours
# Shorter "secrets" (an empty or placeholder key) would redact ordinary words, so they are skipped.
_MIN_SECRET_LEN = 4

# The account, not the request, is the problem (docs/providers.md, Producer: "The remaining credits are not
# enough…", "no active subscription"). "credit" alone is not enough: failure texts also say "Credits were refunded".
_CREDIT_NOUNS = ("credit", "balance", "quota")
_CREDIT_SHORTAGE = ("not enough", "insufficient", "top up", "exhausted", "run out", "ran out", "out of")
# Words of the providers' content filters; used to classify failures that arrive without a telling status code.
_MODERATION_WORDS = (
    "moderation",
    "copyright",
    "inappropriate",
    "artist name",
    "flagged",
    "sensitive",
    "prohibited",
    "violat",
)


def secret_value(secret: SecretStr | str | None) -> str:
    """The plain value of a key given as SecretStr or str ('' for none)."""
    if secret is None:
        return ""
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text``; longest first so overlapping keys vanish whole."""
    for secret in sorted({s for s in secrets if len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def truncate(text: str, limit: int = MESSAGE_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _text_of(value: Any) -> str | None:
    """Flatten an error field that may be a string, a nested object or a list (FastAPI's ``detail``)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping):
        return message_from_body(value)
    if isinstance(value, list):
        parts = [t for t in (_text_of(v) for v in value) if t]
        return "; ".join(parts) or None
    return None


def message_from_body(body: Any, raw: str | None = None) -> str | None:
    """The provider's message: ``error``, then ``message``, then ``detail``, then ``msg``, then the raw text."""
    if isinstance(body, Mapping):
        for field in ("error", "message", "detail", "msg"):
            text = _text_of(body.get(field))
            # A bare "success" is the submit answer's filler, not an explanation.
            if text and text.casefold() != "success":
                return text
    elif isinstance(body, str | list):
        text = _text_of(body)
        if text:
            return text
    if raw and raw.strip():
        return raw.strip()
    return None


def credits_exhausted(text: str | None) -> bool:
    """The text says the account ran out (not merely that credits were refunded)."""
    if not text:
        return False
    folded = text.casefold()
    if "subscription" in folded:
        return True
    return any(n in folded for n in _CREDIT_NOUNS) and any(s in folded for s in _CREDIT_SHORTAGE)


def mentions_moderation(text: str | None) -> bool:
    folded = (text or "").casefold()
    return any(w in folded for w in _MODERATION_WORDS)


def _credits_403(text: str | None) -> bool:
    # A 403 is either the account or the filter. Any mention of credits means the account, unless the text also
    # reads like the filter ("…flagged. Credits were refunded."), where only a clear shortage counts.
    if credits_exhausted(text):
        return True
    folded = (text or "").casefold()
    return any(n in folded for n in _CREDIT_NOUNS) and not mentions_moderation(text)


def _valid_cap(cap: float) -> float:
    if not math.isfinite(cap) or cap < 0:
        raise ValueError("the Retry-After cap must be a finite number of seconds, 0 or more")
    return float(cap)


def clamp_retry_after(seconds: float | None, cap: float = DEFAULT_MAX_RETRY_AFTER) -> float | None:
    """A wait the engine can use: finite, in ``[0, cap]``; None when the value says nothing (nan, negative)."""
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return None
    return min(float(seconds), _valid_cap(cap))


def parse_retry_after(
    value: str | None, *, now: float | None = None, cap: float = DEFAULT_MAX_RETRY_AFTER
) -> float | None:
    """``Retry-After`` in seconds, from either form HTTP allows (delta seconds or an HTTP date), at most ``cap``.

    Whatever the header holds ("1e999", "nan", "-5", a date in the year 9999, garbage), the result is None or a
    finite number in ``[0, cap]``.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return clamp_retry_after(float(value), cap)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        target = when.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    current = time.time() if now is None else now
    return clamp_retry_after(max(0.0, target - current), cap)


def error_for_status(
    status: int,
    message: str | None,
    *,
    retry_after: float | None = None,
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
) -> ProviderError:
    """Map an HTTP status (or a body ``code``) and the provider's (already redacted) message onto the domain.

    ``retry_after`` is clamped here too (see :func:`clamp_retry_after`), so no error leaves this module with a wait
    longer than the cap or one that is not a finite number.
    """
    text = truncate(message) if message else None
    retry_after = clamp_retry_after(retry_after, max_retry_after)
    if status == 400 or status == 422:
        # The provider's validation text names the limit the member crossed: show it.
        return ProviderError(ErrorKind.REJECTED, text, status=status)
    if status == 401:
        # An operator problem: the member gets the generic text, never the provider's (which may quote the key).
        return ProviderError(ErrorKind.AUTH, status=status)
    if status == 402 or (status == 403 and _credits_403(text)):
        return ProviderError(ErrorKind.CREDITS, status=status)
    if status == 403:
        # The filter's text names what was flagged ("The lyrics contain copyrighted content: '…'").
        return ProviderError(ErrorKind.MODERATION, text, status=status)
    if status == 404:
        return ProviderError(
            ErrorKind.REJECTED, text or "The provider does not know this track or task.", status=status
        )
    if status == 410:
        return ProviderError(ErrorKind.RETIRED, status=status)
    if status == 429:
        return ProviderError(
            ErrorKind.UNAVAILABLE,
            "The music provider is busy right now; try again shortly.",
            retryable=True,
            retry_after=retry_after,
            status=status,
        )
    if status == 504 and text and ("task failed" in text.casefold() or "refunded" in text.casefold()):
        # The Producer's own "Task failed due to timeout. Credits were previously refunded.": the task is over,
        # asking again cannot revive it. A plain gateway 504 (no such text) stays retryable below.
        return ProviderError(ErrorKind.TIMEOUT, retryable=False, status=status)
    if status >= 500:
        return ProviderError(ErrorKind.UNAVAILABLE, retryable=True, retry_after=retry_after, status=status)
    if 400 <= status < 500:
        return ProviderError(ErrorKind.REJECTED, text, status=status)
    return ProviderError(
        ErrorKind.UNAVAILABLE,
        "The music provider gave an answer the bot does not understand.",
        retryable=False,
        status=status,
    )


@dataclass(frozen=True, slots=True)
class JsonResponse:
    """A successful (2xx) answer: its status (the Producer says 'not ready' with 202) and decoded JSON body."""

    status: int
    body: Any


# Transport errors raised before any byte reached the provider: a retry cannot create a second task.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class JsonApi:
    """Sends JSON requests for one provider with the injected client; maps errors and retries what may pass later.

    Retries: transport errors, 429 and 5xx, at most ``max_attempts`` calls, exponential backoff with jitter, or the
    provider's ``Retry-After`` when it sends one. 4xx is never retried. A POST whose answer was lost on the way
    back (read timeout, dropped connection) is not resent here, since the provider may already have started (and
    charged for) the task; it raises a retryable UNAVAILABLE and the caller decides.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        provider: str,
        base_url: str,
        auth_headers: Mapping[str, str],
        secrets: Iterable[str],
        sleep: Sleep = asyncio.sleep,
        max_attempts: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_wait: float = 30.0,
        max_retry_after: float | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._base_path = httpx.URL(self.base_url).path.rstrip("/")  # for log lines, parsed once
        self._auth_headers = dict(auth_headers)
        self._secrets = tuple(s for s in secrets if s)
        self._sleep = sleep
        self.max_attempts = max(1, max_attempts)
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        # A Retry-After longer than this is not slept through inside one call: the error goes up with retry_after
        # so the engine can reschedule instead of holding a slot.
        self._max_retry_wait = max_retry_wait
        # The longest Retry-After honoured: given here, else the client's (TUNESMITH_MAX_RETRY_AFTER), else a minute.
        if max_retry_after is None:
            max_retry_after = client.max_retry_after if isinstance(client, ProviderHttpClient) else None
        self.max_retry_after = _valid_cap(DEFAULT_MAX_RETRY_AFTER if max_retry_after is None else max_retry_after)
        self._rng = rng

    def __repr__(self) -> str:
        return f"JsonApi(provider={self.provider!r}, base_url={self.base_url!r})"

    def redact(self, text: str, extra: Iterable[str] = ()) -> str:
        return redact(text, (*self._secrets, *extra))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self._backoff_max, self._backoff_base * 2.0 ** (attempt - 1))
        # "Equal jitter": at least half the ceiling so retries stay spaced, the rest random so clients spread out.
        return ceiling / 2 + self._rng() * ceiling / 2

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        query: str | None = None,
        secrets: Iterable[str] = (),
    ) -> JsonResponse:
        """Call ``base_url + path`` and return the decoded 2xx answer, or raise :class:`ProviderError`.

        ``query`` is an already encoded query string (FUZZ documents literal commas in ``ids=a,b``); ``secrets``
        are extra values to keep out of logs and errors (a webhook secret in the body).
        """
        extra = tuple(s for s in secrets if s)
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        idempotent = method.upper() in {"GET", "HEAD", "OPTIONS"}
        # Log the full path (not the query: a batch of 25 ids says little) so the line names the real endpoint.
        where = f"{self._base_path}{path}"
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                response = await self._client.request(method, url, json=json_body, headers=self._auth_headers)
            except httpx.TransportError as exc:
                elapsed_ms = (time.perf_counter() - started) * 1000
                reason = self.redact(f"{type(exc).__name__}: {exc}", extra)
                log.debug("%s %s %s -> %s after %.0f ms", self.provider, method, where, reason, elapsed_ms)
                error = ProviderError(ErrorKind.UNAVAILABLE, retryable=True)
                may_retry = idempotent or isinstance(exc, _NOT_SENT)
                if may_retry and attempt < self.max_attempts:
                    delay = self._backoff(attempt, None)
                    log.info(
                        "%s %s %s failed (%s); retry %d/%d in %.1f s",
                        self.provider,
                        method,
                        where,
                        type(exc).__name__,
                        attempt,
                        self.max_attempts - 1,
                        delay,
                    )
                    await self._sleep(delay)
                    continue
                log.warning("%s %s %s failed after %d attempt(s): %s", self.provider, method, where, attempt, reason)
                raise error from exc

            elapsed_ms = (time.perf_counter() - started) * 1000
            status = response.status_code
            log.debug("%s %s %s -> %d in %.0f ms", self.provider, method, where, status, elapsed_ms)
            # Redacted before parsing, so no provider text that echoes the key (an error quoting the header, a
            # body field) can reach a message, a log line or a TaskFailure further down.
            raw = self.redact(response.text, extra)
            try:
                body: Any = json.loads(raw) if raw.strip() else None
            except ValueError:
                body = None

            if 200 <= status < 300:
                if body is None and raw.strip():
                    log.warning(
                        "%s %s %s answered %d with non-JSON text: %s",
                        self.provider,
                        method,
                        where,
                        status,
                        truncate(raw, 120),
                    )
                    raise ProviderError(
                        ErrorKind.UNAVAILABLE,
                        "The music provider gave an answer the bot does not understand.",
                        retryable=False,
                        status=status,
                    )
                return JsonResponse(status, body)

            message = message_from_body(body, raw)
            retry_after = parse_retry_after(response.headers.get("Retry-After"), cap=self.max_retry_after)
            error = error_for_status(status, message, retry_after=retry_after, max_retry_after=self.max_retry_after)
            log.log(
                logging.INFO if error.retryable else logging.WARNING,
                "%s %s %s answered %d (%s): %s",
                self.provider,
                method,
                where,
                status,
                error.kind.value,
                truncate(message or "", 200),
            )
            if error.retryable and attempt < self.max_attempts:
                if retry_after is not None and retry_after > self._max_retry_wait:
                    raise error
                delay = self._backoff(attempt, retry_after)
                log.info(
                    "%s %s %s: retry %d/%d in %.1f s",
                    self.provider,
                    method,
                    where,
                    attempt,
                    self.max_attempts - 1,
                    delay,
                )
                await self._sleep(delay)
                continue
            raise error
