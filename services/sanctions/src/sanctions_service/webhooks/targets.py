"""Where a webhook may point: public addresses, plus the non-public networks the operator allows (SSRF guard).

A webhook URL is chosen by an agency's credential, and the sender runs inside our network: without a guard a
subscription to ``http://169.254.169.254/…`` (cloud metadata), ``http://10.x.x.x/…`` or ``http://localhost:…`` would
make sanctions POST to internal services. Every address the host resolves to must be globally routable, or in
``webhook_allowed_networks`` (e.g. the government extranet segment agencies' receivers live on). Checked when a
subscription is registered (422) and again before every delivery (the name may have been re-pointed since).
What this does not stop: a name re-pointed between our check and httpx's own resolution a moment later (DNS
rebinding within milliseconds); an egress firewall is the complete answer, this is the application's part.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _normalised(address: Address) -> Address:
    # ::ffff:10.0.0.1 is 10.0.0.1 (Python 3.11 does not look through the mapping for is_global)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_refused(address: Address, allowed: Sequence[Network]) -> bool:
    """``address`` as :func:`_normalised` leaves it."""
    if any(address in network for network in allowed):
        return False
    return not address.is_global or address.is_multicast


async def refused_target(url: str, allowed: Sequence[Network], *, unresolvable_ok: bool = False) -> str | None:
    """Why ``url`` may not receive webhooks, or None. Resolves the host name (each of its addresses must pass).
    ``unresolvable_ok``: a name that does not resolve (yet) passes — registration accepts a receiver whose DNS
    entry is still to come; delivery checks again and never contacts what it cannot check."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return "the URL has no host"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the URL's port is not a number from 0 to 65535"
    try:
        addresses = {_normalised(ipaddress.ip_address(host))}
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            return None if unresolvable_ok else f"the host {host} does not resolve ({exc})"
        addresses = {_normalised(ipaddress.ip_address(info[4][0].split("%", 1)[0])) for info in infos}
    refused = sorted(str(a) for a in addresses if address_refused(a, allowed))
    if refused:
        return (f"{host} resolves to {', '.join(refused)}, which is not a public address and not in "
                "webhook_allowed_networks")
    return None
