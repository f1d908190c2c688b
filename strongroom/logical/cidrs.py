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
            network = _network(block)
        except ValueError:
            continue
        if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped and network.version == 4:
            if client.ipv4_mapped in network:
                return True
        elif client.version == network.version and client in network:
            return True
    return False


def blocks_within(outer_blocks: Sequence[str], inner_blocks: Sequence[str]) -> bool:
    """Whether every inner block lies inside one of the outer ones (Vault's `cidrutil.SubsetBlocks`); a bare
    address among the outer blocks is a host block. ValueError for a block that is not one."""
    outer = [_network(block) for block in outer_blocks]
    for block in inner_blocks:
        inner = ipaddress.ip_network(block, strict=False)
        same_version = [network for network in outer if network.version == inner.version]
        if not any(inner.subnet_of(network) for network in same_version):  # type: ignore[arg-type]
            return False
    return True


def _network(block: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR block, or a bare address as its host block."""
    return ipaddress.ip_network(block if "/" in block else f"{block}/{128 if ':' in block else 32}", strict=False)
