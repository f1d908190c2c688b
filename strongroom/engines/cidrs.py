"""Bound CIDR parsing now lives in `strongroom.logical.cidrs`."""

# re-exported until transit/token import from strongroom.logical
from strongroom.logical.cidrs import parse_addrs

__all__ = ["parse_addrs"]
