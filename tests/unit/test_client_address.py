"""server.client_address: X-Forwarded-For is believed from trusted proxies only, read from the right."""

from __future__ import annotations

from server.client_address import parse_address, resolve, trusted_networks

PROXIES = trusted_networks(("10.0.0.0/8", "::1/128"))


def test_an_untrusted_peers_forwarded_for_is_ignored() -> None:
    assert resolve("203.0.113.7", ["198.51.100.1"], PROXIES) == "203.0.113.7"
    assert resolve("203.0.113.7", ["198.51.100.1"], ()) == "203.0.113.7"


def test_a_trusted_proxys_forwarded_for_gives_the_client() -> None:
    assert resolve("10.0.0.2", ["198.51.100.1"], PROXIES) == "198.51.100.1"


def test_the_right_most_untrusted_entry_wins_over_a_forged_left_part() -> None:
    # The client wrote "1.1.1.1" itself; the trusted proxy appended what it saw.
    assert resolve("10.0.0.2", ["1.1.1.1, 198.51.100.1"], PROXIES) == "198.51.100.1"
    assert resolve("10.0.0.2", ["1.1.1.1", "198.51.100.1, 10.0.0.3"], PROXIES) == "198.51.100.1"


def test_a_chain_of_trusted_proxies_only_gives_the_left_most() -> None:
    assert resolve("10.0.0.2", ["10.0.0.5, 10.0.0.3"], PROXIES) == "10.0.0.5"
    assert resolve("10.0.0.2", [], PROXIES) == "10.0.0.2"


def test_ports_and_mapped_addresses_are_undone() -> None:
    assert resolve("::ffff:10.0.0.2", ["198.51.100.1:5555"], PROXIES) == "198.51.100.1"
    assert resolve("::1", ["[2001:db8::1]:443"], PROXIES) == "2001:db8::1"
    assert parse_address("not an address") is None


def test_no_peer_is_unknown() -> None:
    assert resolve(None, ["198.51.100.1"], PROXIES) == "unknown"
