"""The client's address, believing ``X-Forwarded-For`` only from trusted reverse proxies.

``trusted_proxies`` (``ASCOLTO_TRUSTED_PROXIES``) lists the networks of the proxies in front of the server. A
request whose peer is not in one of them is answered by its peer address, whatever headers it carries: anybody can
write ``X-Forwarded-For``. When the peer is trusted, the header is read from the right (each proxy appends the
address it saw): the right-most entry that is not itself a trusted proxy is the client. An entry that is not an
address ends the walk there: it is what the last trusted proxy saw, and so the client as far as we can tell.

Every per-address limit (login throttle, booking rate limit, socket caps) and every log line naming an address
uses :func:`client_address`, never ``request.remote``.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import hdrs, web

from server.keys import settings_key

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

UNKNOWN = "unknown"  # no peer address (a Unix socket) and no believable header


def client_address(request: web.Request) -> str:
    """The address of the client behind ``request``: the peer's, or the one its trusted proxies report."""
    networks = trusted_networks(request.app[settings_key].trusted_proxies)
    return resolve(request.remote, request.headers.getall(hdrs.X_FORWARDED_FOR, []), networks)


@functools.lru_cache(maxsize=8)
def trusted_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """The setting's CIDR strings as networks (already checked when the settings were read)."""
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def resolve(peer: str | None, forwarded_for: Iterable[str], networks: Sequence[Network]) -> str:
    """Pure part of :func:`client_address`: ``forwarded_for`` are the header's lines in the order received."""
    peer_address = parse_address(peer or "")
    if peer_address is None:
        return peer or UNKNOWN
    if not _trusted(peer_address, networks):
        return str(peer_address)
    hops = [hop.strip() for line in forwarded_for for hop in line.split(",")]
    client = peer_address
    for hop in reversed(hops):
        if not hop:
            continue
        hop_address = parse_address(hop)
        if hop_address is None:
            return hop[:64]  # what the last trusted proxy saw, as it wrote it (bounded)
        client = hop_address
        if not _trusted(hop_address, networks):
            break
    return str(client)


def parse_address(text: str) -> Address | None:
    """``text`` as an IP address; a port (``1.2.3.4:5``, ``[::1]:5``) and an IPv4-mapped IPv6 form are undone."""
    text = text.strip()
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1 : text.find("]")] if "]" in text else text[1:]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in networks)
