"""Addresses and CIDR blocks of the auth methods and the token store (`strongroom.logical.cidrs`)."""

from __future__ import annotations

import pytest

from strongroom.logical.cidrs import address_in, blocks_within


def test_address_in_reads_bare_addresses_as_host_blocks_and_ipv4_mapped_addresses_as_ipv4() -> None:
    assert address_in("10.1.2.3", ["10.0.0.0/8"]) and address_in("10.1.2.3", ["10.1.2.3"])
    assert address_in("::ffff:10.1.2.3", ["10.0.0.0/8"]) and address_in("[::1]", ["::1"])
    assert not address_in("10.1.2.4", ["10.1.2.3", "bad"]) and not address_in("unknown", ["0.0.0.0/0"])


def test_blocks_within() -> None:
    assert blocks_within(["10.0.0.0/8"], ["10.1.0.0/16", "10.2.3.4/32"])
    assert blocks_within(["10.1.2.3"], ["10.1.2.3/32"]) and blocks_within(["::/0"], ["fe80::/10"])
    assert not blocks_within(["10.0.0.0/8"], ["10.0.0.0/7"]) and not blocks_within(["::/0"], ["10.0.0.0/8"])
    with pytest.raises(ValueError):
        blocks_within(["10.0.0.0/8"], ["nonsense"])
