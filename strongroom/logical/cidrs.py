"""Addresses and CIDR blocks as the auth methods and the token store take them (bound CIDRs of tokens, users,
roles, secret IDs)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from strongroom.logical.errors import BadRequest


def parse_addrs(name: str, values: list[str]) -> list[str]:
    """Addresses or CIDR blocks (Vault's `parseutil.ParseAddrs`); a host block shows as its bare
    address ("127.0.0.1/32" reads back as "127.0.0.1"), as Vault's sockaddr does."""
    out: list[str] = []
    for value in values:
        try:
            interface = ipaddress.ip_interface(value)
        except ValueError:
            raise BadRequest(
                f'error parsing address "{value}": Unable to convert "{value}" to an IPv4 or IPv6 address, '
                "or a UNIX Socket"
            ) from None
        if interface.network.prefixlen == interface.max_prefixlen:
            out.append(str(interface.ip))
        else:
            out.append(f"{interface.ip}/{interface.network.prefixlen}")
    return out


def parse_cidr_blocks(values: list[str], *, what: str = "CIDR blocks") -> list[str]:
    """CIDR blocks proper (Go's `net.ParseCIDR`: the prefix length is required), kept as given."""
    for value in values:
        try:
            if "/" not in value:
                raise ValueError
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise BadRequest(f"failed to validate {what}: invalid CIDR address: {value}") from None
    return list(values)


def address_in(address: str, blocks: Sequence[str]) -> bool:
    """Whether the client address is in one of the blocks; an unknown or bad address never is."""
    try:
        client = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    for block in blocks:
        try:
            network = ipaddress.ip_network(block if "/" in block else f"{block}/{_max_prefix(block)}", strict=False)
        except ValueError:
            continue
        if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped and network.version == 4:
            if client.ipv4_mapped in network:
                return True
        elif client.version == network.version and client in network:
            return True
    return False


def _max_prefix(address: str) -> int:
    return 128 if ":" in address else 32
