"""The webhook SSRF guard (webhooks/targets.py): only public addresses, or the operator's allowed networks."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from sanctions_service.webhooks.targets import refused_target

INTERNAL = [
    "http://127.0.0.1:8080/hook",  # loopback
    "http://localhost:9000/hook",  # a name resolving to loopback
    "http://10.1.2.3/hook", "http://172.16.0.9/hook", "http://192.168.1.1/hook",  # RFC 1918
    "http://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://0.0.0.0/hook", "http://224.0.0.1/hook",  # "this host", multicast
    "http://[::1]:9000/hook", "http://[fe80::1]/hook", "http://[fc00::1]/hook",  # IPv6 loopback, link-local, ULA
    "http://[::ffff:10.0.0.1]/hook",  # an IPv4 private address behind an IPv4-mapped IPv6 one
]


@pytest.mark.parametrize("url", INTERNAL)
async def test_internal_targets_are_refused_with_the_address_named(url):
    reason = await refused_target(url, [])
    assert reason is not None and "not a public address" in reason


@pytest.mark.parametrize("url", ["https://8.8.8.8/hook", "https://[2001:4860:4860::8888]:8443/hook"])
async def test_public_addresses_pass(url):
    assert await refused_target(url, []) is None


async def test_allowed_networks_let_exactly_their_segment_through():
    extranet = [ip_network("10.20.0.0/16"), ip_network("127.0.0.0/8")]
    assert await refused_target("https://10.20.3.4/hook", extranet) is None
    assert await refused_target("http://localhost:9000/hook", extranet) is None
    assert "10.21.0.1" in (await refused_target("https://10.21.0.1/hook", extranet) or "")


async def test_a_name_that_does_not_resolve_is_refused_for_delivery_but_may_be_registered():
    assert "does not resolve" in (await refused_target("https://receiver.invalid/hook", []) or "")
    assert await refused_target("https://receiver.invalid/hook", [], unresolvable_ok=True) is None
    assert await refused_target("https://127.0.0.1/hook", [], unresolvable_ok=True) is not None  # still checked
