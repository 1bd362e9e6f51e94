"""The notifier's egress policy, called directly: no traffic leaves the machine (the addresses below are only
ever passed to the check, and the network backend under test is a recording fake)."""

from __future__ import annotations

import socket
import ssl

import httpcore
import httpx
import pytest

from notifier import egress
from notifier.egress import Blocked, Guard, GuardedBackend, Policy, check_address, check_url, failure_category

PRODUCTION, DEVELOPMENT = Policy(), Policy(allow_loopback_http=True)

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",  # loopback
    "10.0.0.5",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "fd00::1",  # private, unique local
    "169.254.169.254",
    "fd00:ec2::254",
    "fe80::1",
    "fe80::1%eth0",  # link-local, cloud metadata (IPv4, AWS IPv6)
    "100.64.0.1",
    "100.127.255.254",  # CGNAT
    "0.0.0.0",
    "::",
    "0.1.2.3",  # unspecified, "this network"
    "224.0.0.1",
    "239.255.255.250",
    "ff02::1",
    "ff0e::1",  # multicast
    "240.0.0.1",
    "255.255.255.255",  # reserved, broadcast
    "192.0.2.1",
    "198.51.100.7",
    "203.0.113.9",
    "2001:db8::1",  # documentation
    "198.18.0.1",
    "192.0.0.8",
    "192.88.99.1",  # benchmarking, IETF assignments, 6to4 relay anycast
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",  # IPv4-mapped IPv6
    "2002:a00:1::1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::a00:1",  # 6to4, NAT64 embedding private IPv4
    "2001::1",
    "fec0::1",
    "100::1",  # Teredo, site-local, discard-only
]


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused(address):
    with pytest.raises(Blocked) as refused:
        check_address(address, PRODUCTION)
    assert refused.value.category == "blocked_address"


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.4.4", "2606:4700:4700::1111", "2a00:1450:4007:80e::200e"])
def test_public_unicast_addresses_pass(address):
    check_address(address, PRODUCTION)


def test_the_development_setting_allows_loopback_and_nothing_else():
    for address in ("127.0.0.1", "::1"):
        check_address(address, DEVELOPMENT)
    for address in ("10.0.0.5", "169.254.169.254", "::ffff:127.0.0.1", "0.0.0.0"):
        with pytest.raises(Blocked):
            check_address(address, DEVELOPMENT)


def test_a_non_address_is_refused():
    with pytest.raises(Blocked):
        check_address("not-an-ip", PRODUCTION)


@pytest.mark.parametrize(
    ("url", "category"),
    [
        ("http://hooks.example.com/x", "blocked_scheme"),
        ("ftp://hooks.example.com/x", "blocked_scheme"),
        ("gopher://127.0.0.1:5432/", "blocked_scheme"),
        ("https://user:secret@hooks.example.com/x", "blocked_url"),
        ("https:///no-host", "blocked_url"),
        ("https://hooks.example.com:99999/x", "blocked_url"),
        ("https://hooks.example.com/" + "a" * egress.MAX_URL_LENGTH, "blocked_url"),
    ],
)
def test_urls_must_be_https_without_credentials_and_bounded(url, category):
    with pytest.raises(Blocked) as refused:
        check_url(url, PRODUCTION)
    assert refused.value.category == category


def test_url_host_and_port():
    assert check_url("https://hooks.example.com/x", PRODUCTION) == ("hooks.example.com", 443)
    assert check_url("https://[2606:4700::1]:8443/x", PRODUCTION) == ("2606:4700::1", 8443)
    assert check_url("http://127.0.0.1:8080/x", DEVELOPMENT) == ("127.0.0.1", 8080)


def names(table: dict[str, list[str]]) -> egress.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


async def test_a_name_is_refused_when_any_of_its_addresses_is_internal():
    guard = Guard(
        PRODUCTION,
        names(
            {
                "mixed.example.com": ["93.184.215.14", "10.1.2.3"],
                "meta.example.com": ["169.254.169.254"],
                "public.example.com": ["93.184.215.14"],
                "empty.example.com": [],
            }
        ),
    )
    for host in ("mixed.example.com", "meta.example.com"):
        with pytest.raises(Blocked) as refused:
            await guard.addresses(host, 443)
        assert refused.value.category == "blocked_address"
    for host in ("nowhere.example.com", "empty.example.com"):
        with pytest.raises(Blocked) as unknown:
            await guard.addresses(host, 443)
        assert unknown.value.category == "dns"
    assert await guard.addresses("public.example.com", 443) == ["93.184.215.14"]
    await guard.check_endpoint("https://public.example.com/hooks")
    with pytest.raises(Blocked):
        await guard.check_endpoint("https://meta.example.com/latest/meta-data")


async def test_an_ip_literal_is_checked_without_a_lookup():
    async def no_lookup(host: str, port: int) -> list[str]:
        raise AssertionError("a literal needs no resolver")

    guard = Guard(PRODUCTION, no_lookup)
    assert await guard.addresses("[2606:4700:4700::1111]", 443) == ["2606:4700:4700::1111"]
    with pytest.raises(Blocked):
        await guard.check_endpoint("https://169.254.169.254/latest/meta-data")


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Stands in for the socket layer: records where it was asked to connect, connects nowhere."""

    def __init__(self) -> None:
        self.connected: list[tuple[str, int]] = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connected.append((host, port))
        raise httpcore.ConnectError("recorded, not connected")

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise NotImplementedError

    async def sleep(self, seconds):
        pass


async def test_the_connection_goes_to_the_address_that_was_checked_resolved_once():
    """DNS rebinding: a name answering a public address to the check and a private one to the connection
    cannot get through, because the connection uses the very answer that was checked."""
    answers = [["93.184.215.14"], ["10.0.0.8"]]
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls) - 1, 1)]

    inner = RecordingBackend()
    backend = GuardedBackend(Guard(PRODUCTION, rebinding), inner)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("rebind.example.com", 443)
    with pytest.raises(Blocked) as second:
        await backend.connect_tcp("rebind.example.com", 443)
    assert calls == ["rebind.example.com", "rebind.example.com"]  # one lookup per connection
    assert inner.connected == [("93.184.215.14", 443)]  # the checked address; the private one never
    assert second.value.category == "blocked_address"


async def test_the_client_never_follows_redirects_and_ignores_proxy_settings(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://10.0.0.1:3128")
    async with egress.client(Guard(PRODUCTION, names({})), 1.0) as client:
        assert client.follow_redirects is False
        assert client._mounts == {}  # no proxy from the environment
        with pytest.raises(Blocked) as refused:
            await client.post("https://nowhere.example.com/x", content=b"{}")
    assert refused.value.category == "dns"


def chained(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("exc", "category"),
    [
        (TimeoutError(), "timeout"),
        (httpx.ReadTimeout("x"), "timeout"),
        (
            chained(httpx.ConnectError("x"), chained(httpcore.ConnectError("y"), ConnectionRefusedError(111, "x"))),
            "refused",
        ),
        (chained(httpx.ConnectError("x"), ssl.SSLCertVerificationError(1, "certificate verify failed")), "tls"),
        (chained(httpx.ConnectError("x"), socket.gaierror(-2, "unknown")), "dns"),
        (chained(httpx.ReadError("x"), ConnectionResetError(104, "reset")), "reset"),
        (httpx.ConnectError("All connection attempts failed"), "connect"),
        (httpx.RemoteProtocolError("illegal header"), "protocol"),
        (httpx.ReadError("x"), "network"),
        (Blocked("blocked_address", "10.0.0.1 is private"), "blocked_address"),
    ],
)
def test_failures_become_categories_without_their_text(exc, category):
    assert failure_category(exc) == category
