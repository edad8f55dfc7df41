"""Fetching the files a provider points at (audio, covers) without letting a URL reach inside our network.

A provider's answer is hostile until checked: if it echoes a member's ``cover_url`` (or is compromised), the bot
must not fetch ``http://169.254.169.254/...`` or ``http://localhost:8080/metrics`` and post what it gets. So
:class:`GuardedFileFetcher`:

* accepts only http(s) URLs without credentials in them;
* refuses loopback, private, link-local, CGNAT, multicast, unspecified, reserved and cloud-metadata addresses,
  also when written as IPv4-mapped IPv6, 6to4 or NAT64, for an address in the URL and for **every** address a
  host name resolves to;
* resolves through aiohttp's resolver hook, so the connection goes to exactly the addresses that were checked
  (no second lookup a DNS-rebinding server could answer differently);
* follows at most a few redirects itself, checking each hop the same way;
* reads at most ``limit`` bytes, streaming, and gives up past it;
* answers None on any refusal or failure, so the caller falls back to posting a link.

Only the built-in sandbox (on loopback) is fetched with ``allow_private=True``. Log lines name the host and the
reason, never the path or query (signed URLs carry tokens there).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence

import aiohttp.abc
import httpx

from bot.providers.http import ProviderHttpClient

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the IP addresses (as text) it resolves to
Resolve = Callable[[str, int], Awaitable[Sequence[str]]]

DEFAULT_MAX_REDIRECTS = 3
DEFAULT_TIMEOUT = 60.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Public addresses that still answer as cloud metadata or host agents (everything else of that kind is link-local
# 169.254.0.0/16, CGNAT 100.64.0.0/10 or unique-local fc00::/7, all refused anyway).
_METADATA = (ipaddress.ip_network("168.63.129.16/32"),)  # Azure's wire server
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(OSError):
    """A URL's host is, or resolves to, an address the fetcher may not reach."""


def is_public_address(ip: IPAddress) -> bool:
    """Whether ``ip`` is a global unicast address outside every block a fetch must not reach."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 address a.b.c.d on a dual-stack socket
            return is_public_address(ip.ipv4_mapped)
        embedded: list[ipaddress.IPv4Address] = []
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(not is_public_address(v4) for v4 in embedded):
            return False
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback or ip.is_link_local or ip.is_reserved:
        return False
    if any(ip in net for net in _METADATA):
        return False
    return ip.is_global  # False for private, CGNAT, documentation, benchmarking, unique-local ranges


class AddressPolicy:
    """Which addresses a fetch may reach: public ones, plus the networks an operator (or a test) allows."""

    def __init__(self, *, allow_private: bool = False, allowed_networks: Iterable[str] = ()) -> None:
        self.allow_private = allow_private
        self._allowed: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(n) for n in allowed_networks)

    def check(self, ip: IPAddress) -> None:
        if self.allow_private or any(ip.version == net.version and ip in net for net in self._allowed):
            return
        if not is_public_address(ip):
            raise AddressRefused(f"{ip} is not a public address")


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # a zone id ("fe80::1%eth0") names an interface
    except ValueError:
        return None


async def system_resolve(host: str, port: int) -> list[str]:
    """The operating system's resolver (getaddrinfo), every address of either family."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class GuardedResolver(aiohttp.abc.AbstractResolver):
    """aiohttp's resolver hook: resolves, checks every address, and returns only checked ones to connect to."""

    def __init__(self, resolve: Resolve, policy: AddressPolicy) -> None:
        self._resolve = resolve
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        answers = list(await self._resolve(host, port))
        if not answers:
            raise OSError(f"{host} has no address")
        results: list[aiohttp.abc.ResolveResult] = []
        for answer in answers:
            ip = _parse_ip(answer)
            if ip is None:
                raise AddressRefused(f"{host} resolved to something that is not an address")
            # Every address is checked, not just the first: a name with one public and one private address could
            # otherwise be connected to the private one.
            self._policy.check(ip)
            results.append(
                {
                    "hostname": host,
                    "host": str(ip),
                    "port": port,
                    "family": socket.AF_INET6 if ip.version == 6 else socket.AF_INET,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        return results

    async def close(self) -> None:
        return None


class FetchRefused(Exception):
    """Internal: why a fetch gives None (logged, never raised to the caller)."""


class GuardedFileFetcher:
    """Downloads provider files through the provider HTTP stack, refusing internal addresses (module docstring).

    ``resolve`` replaces the system resolver (tests; the machine's own DNS otherwise); ``allowed_networks`` lets
    named private networks through without opening all of them.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allowed_networks: Iterable[str] = (),
        resolve: Resolve = system_resolve,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        timeout: float = DEFAULT_TIMEOUT,
        user_agent: str = "Tunesmith/0.1",
    ) -> None:
        self.policy = AddressPolicy(allow_private=allow_private, allowed_networks=allowed_networks)
        self._max_redirects = max_redirects
        self._timeout = timeout
        self._client = ProviderHttpClient(
            resolver=GuardedResolver(resolve, self.policy),
            timeout=httpx.Timeout(min(timeout, 30.0), connect=min(timeout, 10.0)),
            headers={"User-Agent": user_agent},
            follow_redirects=False,  # each hop is checked here
            trust_env=False,  # no proxy from the environment: the connection must go where the check says
        )

    async def __aenter__(self) -> GuardedFileFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str, *, limit: int) -> bytes | None:
        """The file's bytes, or None when it is missing, unreachable, larger than ``limit`` or refused."""
        host = "?"
        try:
            target = httpx.URL(url)
            host = target.host or "?"
            async with asyncio.timeout(self._timeout):
                return await self._fetch(target, limit)
        except FetchRefused as exc:
            log.warning("file fetch from %s refused: %s", host, exc)
        except TimeoutError:
            log.warning("file fetch from %s gave up after %.0f s", host, self._timeout)
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
            refused = _refusal_in(exc)
            if refused is not None:
                log.warning("file fetch from %s refused: %s", host, refused)
            else:
                log.info("file fetch from %s failed: %s", host, type(exc).__name__)
        return None

    def _check_url(self, url: httpx.URL) -> None:
        if url.scheme not in ("http", "https"):
            raise FetchRefused(f"scheme {url.scheme or '(none)'} is not http(s)")
        if not url.host:
            raise FetchRefused("no host")
        if url.userinfo:
            raise FetchRefused("credentials in the URL")
        ip = _parse_ip(url.host)
        if ip is not None:  # aiohttp connects to an address literal without asking the resolver
            try:
                self.policy.check(ip)
            except AddressRefused as exc:
                raise FetchRefused(str(exc)) from None

    async def _fetch(self, url: httpx.URL, limit: int) -> bytes:
        for _hop in range(self._max_redirects + 1):
            self._check_url(url)
            async with self._client.stream("GET", url) as response:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchRefused(f"HTTP {response.status_code} without a Location")
                    url = url.join(location)
                    continue
                if response.status_code != 200:
                    raise FetchRefused(f"HTTP {response.status_code}")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchRefused(f"{declared} bytes is over the {limit}-byte limit")
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > limit:
                        raise FetchRefused(f"more than the {limit}-byte limit")
                return bytes(data)
        raise FetchRefused(f"more than {self._max_redirects} redirects")


def _refusal_in(exc: BaseException) -> AddressRefused | None:
    """The AddressRefused the resolver raised, wherever aiohttp and httpx wrapped it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, AddressRefused):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
