"""How an endpoint of the route table that answers itself (the seal endpoints) describes its operations to
the OpenAPI document; the routes of the core's mounts describe themselves (`logical.Route`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from strongroom.logical.fields import FieldType


@dataclass(frozen=True, slots=True)
class Described:
    """An operation of an endpoint, under its OpenAPI method (`get`, `post`, `delete`)."""

    summary: str
    #: the JSON body's fields (a write)
    body: Mapping[str, FieldType] = field(default_factory=dict)
    query: Mapping[str, FieldType] = field(default_factory=dict)
    #: the statuses of its answers besides the errors; () when the caller chooses them (sys/health)
    statuses: tuple[int, ...] = (200,)
    #: answered without a token
    unauthenticated: bool = True


Operations = Mapping[str, Described]
