r"""ACL policies: Vault's policy language (HCL or JSON) read into `Policy` objects.

`parse_policy` reads the text of a policy: HCL through `strongroom.hcl` (pyhcl), JSON when the
text starts with "{" (Vault accepts both in the same field). Evaluation is in
`strongroom.core.policy.acl`, which builds on this module (never the reverse).

pyhcl is not the HCL library Vault uses (see `strongroom.hcl`). Where it would read a
policy differently from Vault, the HCL form is an error here rather than another reading:

* booleans in lists and some mixed lists (``[false, "false"]``, ``["a", 1]``) are syntax
  errors, as is a string ending in an escaped backslash (``"a\\"``);
* an escape other than ``\"`` and ``\\`` (``"\t"``, ``"\u00e9"``) is refused, because pyhcl
  would keep it as a backslash and a letter: a deny rule or a denied value would silently
  stop matching.

One difference cannot be seen after parsing and remains: a heredoc loses its final newline.
pyhcl also accepts more than Vault (bare words such as ``[read]`` are read as strings).
The JSON form has none of these limitations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from strongroom import hcl
from strongroom.logical.fields import DurationFieldError, parse_lenient_duration_field

__all__ = [
    "CAPABILITIES",
    "DEFAULT_POLICY_TEXT",
    "PathRule",
    "Policy",
    "PolicySyntaxError",
    "ROOT_POLICY",
    "parse_policy",
    "validate_policy_name",
]

# Vault's capabilities.  ("subscribe" and "recover" of newer Vault releases and
# OpenBao's "scan" are deliberately not supported.)
CAPABILITIES = ("create", "read", "update", "patch", "delete", "list", "sudo", "deny")

# Legacy `policy = "..."` shorthand (Vault's mapping; "write" has no "patch").
_LEGACY_POLICIES = {
    "deny": ("deny",),
    "read": ("read", "list"),
    "write": ("create", "read", "update", "delete", "list"),
    "sudo": ("create", "read", "update", "delete", "list", "sudo"),
}

_TOP_LEVEL_KEYS = ("name", "path")
_PATH_KEYS = (
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "control_group",
)

# Policies Vault refuses to create or update through the API.
_IMMUTABLE_POLICY_NAMES = ("root", "response-wrapping", "control-group")


# --------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------


class PolicySyntaxError(ValueError):
    """A policy could not be parsed.

    The message starts with ``failed to parse policy:`` like Vault's, followed by the
    position (``At line:column:``) when it is known: always for an HCL syntax error, for a
    problem inside a ``path`` block the position of the block. ``line``, ``column`` and
    ``path`` (the path of the block concerned) are also attributes, None when unknown.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.path = path


@dataclass(frozen=True)
class PathRule:
    """One ``path`` block of a policy.

    ``path`` is the path as written with one leading ``/`` and the trailing
    ``*`` removed; ``glob`` tells whether it ended in ``*``.  For a ``deny``
    rule Vault ignores everything but the capability, and so does this.
    Wrapping TTLs are in whole seconds (``None`` when not set).  A path containing
    identity templating (``{{identity.entity.id}}``) has ``templated=True``; such rules
    never match because Strongroom tokens have no identity entity (Vault skips them too
    when a token has none).
    """

    path: str
    glob: bool
    segment_wildcards: bool
    capabilities: frozenset[str]
    required_parameters: tuple[str, ...] = ()
    allowed_parameters: Mapping[str, tuple[Any, ...]] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    denied_parameters: Mapping[str, tuple[Any, ...]] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    min_wrapping_ttl: int | None = None
    max_wrapping_ttl: int | None = None
    templated: bool = False


@dataclass(frozen=True)
class Policy:
    name: str
    text: str
    rules: tuple[PathRule, ...]


ROOT_POLICY = Policy(name="root", text="", rules=())


# --------------------------------------------------------------------------
# Vault's built-in "default" policy
# --------------------------------------------------------------------------


# Vault's `default` policy as it ships (vault/policy_store.go), except for the
# two templated identity paths (identity/entity/id/{{identity.entity.id}} and
# identity/entity/name/{{identity.entity.name}}), which are omitted.
DEFAULT_POLICY_TEXT = """
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its resultant ACL from all policies. This is useful
# for UIs. It is an internal path because the format may change at any time
# based on how the internal ACL features and capabilities change.
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Allow a token to renew a lease via lease_id in the request body; old path for
# old clients, new path for newer
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties. This requires knowing the lease ID ahead
# of time and does not divulge any sensitive information.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a given
# response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token. This is a convenience to
# avoid client token swapping since this is also part of the response wrapping
# policy.
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Allow general purpose tools
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Allow checking the status of a Control Group request if the user has the
# accessor
path "sys/control-group/request" {
    capabilities = ["update"]
}

# Allow a token to make requests to the Authorization Endpoint for OIDC providers.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
"""


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------


def validate_policy_name(name: str) -> str:
    """Normalise a policy name as Vault does (trim, lower-case) and reject the
    names Vault cannot store or refuses to write.  Returns the normalised
    name; raises ValueError."""
    if not isinstance(name, str):
        raise ValueError("policy name must be a string")
    normalized = name.strip().lower()
    if not normalized:
        raise ValueError("policy name must be provided in the URL")
    if ".." in normalized:
        raise ValueError("relative paths not supported")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in normalized):
        raise ValueError("policy name must not contain control characters")
    if normalized in _IMMUTABLE_POLICY_NAMES:
        raise ValueError(f"cannot update {_q(normalized)} policy")
    return normalized


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


class _Problem(Exception):
    """Something wrong in the content of a policy; the caller says where."""


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _error(
    problem: str, line: int | None = None, column: int | None = None, path: str | None = None
) -> PolicySyntaxError:
    where = "" if line is None else f"At {line}:{column}: "
    return PolicySyntaxError(f"failed to parse policy: {where}{problem}", line=line, column=column, path=path)


def _read_json(text: str) -> list[tuple[str, Any]]:
    try:
        data = json.loads(text, object_pairs_hook=hcl.HclObject)  # repeated keys are kept
    except json.JSONDecodeError as exc:
        raise _error(exc.msg, exc.lineno, exc.colno) from None
    return hcl.entries(data)


# pyhcl decodes only \" and \\; anything that looks like another escape is refused (see top).
_UNDECODED_ESCAPE = re.compile(r"\\[abfnrtvxuU0-7]")


def _read_hcl(text: str) -> list[tuple[str, Any]]:
    try:
        found = hcl.parse_entries(text)
    except hcl.HclError as exc:
        raise _error(exc.problem, exc.line, exc.column) from None
    pending: list[Any] = [found]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            escape = _UNDECODED_ESCAPE.search(value)
            if escape:
                shown = value if len(value) <= 40 else value[:37] + "..."
                raise _Problem(
                    f'unsupported escape {escape[0]} in the string "{shown}": the HCL parser decodes '
                    'only \\" and \\\\; write the policy in JSON to use other escapes'
                )
        elif isinstance(value, Mapping):
            pending.extend(part for pair in hcl.entries(value) for part in pair)
        elif isinstance(value, (list, tuple)):
            pending.extend(value)
    return found


def _is_body(value: Any) -> bool:
    return isinstance(value, Mapping) or (
        isinstance(value, list) and bool(value) and all(isinstance(item, Mapping) for item in value)
    )


def _blocks(entries: list[tuple[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, body) of every path block: ``path "a" {...}`` in HCL; in JSON, as hcl flattens
    it, ``{"path": {"a": {...}, "b": [{...}, {...}]}}`` or ``{"path": [{"a": {...}}, ...]}``."""
    blocks: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in entries:
        if key != "path":
            continue
        for group in value if isinstance(value, list) else [value]:
            labelled = hcl.entries(group) if isinstance(group, Mapping) else []
            if not labelled or not all(isinstance(label, str) and _is_body(body) for label, body in labelled):
                raise _Problem('path: expected a block labelled with the path, e.g. path "secret/*" { ... }')
            for label, body in labelled:
                blocks.extend((label, one) for one in (body if isinstance(body, list) else [body]))
    return blocks


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _Problem(f"{what}: expected a string")
    return value


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Problem(f"{what}: expected a list of strings")
    return value


def _plain(value: Any) -> Any:
    """A parameter value as the ACL compares it: lists become tuples, objects dicts."""
    if isinstance(value, list):
        return tuple(_plain(item) for item in value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in hcl.entries(value)}
    return value


def _add_parameters(into: dict[str, list[Any]], value: Any, what: str) -> None:
    """A ``map[string][]interface{}`` as Vault decodes it; a name given twice accumulates."""
    if not isinstance(value, Mapping):
        raise _Problem(f"{what}: expected a map of parameter names to lists of values")
    for name, values in hcl.entries(value):
        if isinstance(values, Mapping):
            values = [values]
        if not isinstance(name, str) or not isinstance(values, list):
            raise _Problem(f"{what}: the value for {_q(str(name))} must be a list")
        into.setdefault(name, []).extend(_plain(item) for item in values)


def _parameter_keys(params: dict[str, list[Any]], what: str) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}
    for key, values in params.items():
        if key.startswith("/"):
            # Newer Vault releases interpret such keys as JSON pointers into
            # nested request data; that is not supported here, and treating
            # them literally would silently weaken denied_parameters.
            raise _Problem(f"{what}: parameter key {_q(key)}: nested parameter paths are not supported")
        if "*" in key and key != "*":
            raise _Problem(f"{what}: parameter key {_q(key)} cannot contain non-tail wildcards")
        out[key.lower()] = tuple(values)
    return out


def _templated(path: str) -> bool:
    """identitytpl.PopulateString in validity-check mode."""
    pieces = path.split("{{")
    if "}}" in pieces[0] or any(len(piece.split("}}")) != 2 for piece in pieces[1:]):
        raise _Problem("failed to validate policy templating: unbalanced templating characters")
    return len(pieces) > 1


def _path_rule(label: str, body: Mapping[str, Any], strict: bool) -> PathRule:
    templated = _templated(label)
    items = hcl.entries(body)
    invalid = [key for key, _ in items if key not in _PATH_KEYS]
    if invalid:
        raise _Problem("; ".join(f"invalid key {_q(str(key))}" for key in invalid))

    # A key given more than once adds up, as in Vault (the last policy/TTL wins).
    legacy: str | None = None
    caps: list[str] = []
    params: dict[str, dict[str, list[Any]]] = {"allowed_parameters": {}, "denied_parameters": {}}
    required: list[str] = []
    ttls: dict[str, Any] = {}
    for key, value in items:
        if key == "policy":
            legacy = _string(value, key)
        elif key == "capabilities":
            caps += _strings(value, key)
        elif key in params:
            _add_parameters(params[key], value, key)
        elif key == "required_parameters":
            required += _strings(value, key)
        elif key in ("min_wrapping_ttl", "max_wrapping_ttl"):
            ttls[key] = value
        elif key == "mfa_methods":
            _strings(value, key)  # Enterprise feature: checked, ignored
        elif key == "control_group" and not isinstance(value, Mapping):
            raise _Problem("control_group: expected a block")  # Enterprise feature: ignored
        # "comment" is ignored

    path = label[1:] if label.startswith("/") else label
    if "+*" in path:
        raise _Problem("invalid use of wildcards ('+*' is forbidden)")
    segment = path == "+" or "/+" in path or path.startswith("+/")
    glob = path.endswith("*")
    if glob:
        path = path[:-1]

    if legacy:
        if legacy not in _LEGACY_POLICIES:
            raise _Problem(f"invalid policy {_q(legacy)}")
        caps = ["deny"] if legacy == "deny" else caps + list(_LEGACY_POLICIES[legacy])
    if strict and not caps:
        raise _Problem('no capabilities specified (set "capabilities" or "policy")')
    for cap in caps:
        if cap == "deny":
            # Vault keeps only "deny" and ignores the rest of the block.
            return PathRule(path, glob, segment, frozenset({"deny"}), templated=templated)
        if cap not in CAPABILITIES:
            raise _Problem(f"invalid capability {_q(cap)}")

    allowed, denied = (_parameter_keys(params[key], key) for key in ("allowed_parameters", "denied_parameters"))
    lo, hi = (None if name not in ttls else _ttl(ttls[name], name) for name in ("min_wrapping_ttl", "max_wrapping_ttl"))
    if lo and hi and hi < lo:
        raise _Problem("max_wrapping_ttl cannot be less than min_wrapping_ttl")
    return PathRule(
        path=path,
        glob=glob,
        segment_wildcards=segment,
        capabilities=frozenset(caps),
        required_parameters=tuple(required),
        allowed_parameters=MappingProxyType(allowed),
        denied_parameters=MappingProxyType(denied),
        min_wrapping_ttl=lo,
        max_wrapping_ttl=hi,
        templated=templated,
    )


def _ttl(value: Any, name: str) -> int:
    try:
        return parse_lenient_duration_field(value, field=name)
    except DurationFieldError as exc:
        raise _Problem(str(exc)) from None


def parse_policy(name: str, text: str, *, strict: bool = True) -> Policy:
    """Parse an ACL policy written in HCL or JSON.

    Raises :class:`PolicySyntaxError`.  With ``strict=True`` (the default) a
    path block that grants nothing (no ``capabilities`` and no ``policy``) is
    rejected; Vault accepts such a block and it then denies everything on its
    path (``strict=False`` reproduces that).
    """
    if not isinstance(text, str):
        raise TypeError("policy text must be a str")
    is_json = text.lstrip().startswith("{")
    try:
        entries = _read_json(text) if is_json else _read_hcl(text)
        invalid = [key for key, _ in entries if key not in _TOP_LEVEL_KEYS]
        if invalid:
            raise _Problem("; ".join(f"invalid key {_q(str(key))}" for key in invalid))
        if any(key == "name" and isinstance(value, (Mapping, list)) for key, value in entries):
            raise _Problem("name: expected a string")
        blocks = _blocks(entries)
        rules: list[PathRule] = []
        for index, (label, body) in enumerate(blocks):
            try:
                rules.append(_path_rule(label, body, strict))
            except _Problem as exc:
                found = [] if is_json else hcl.block_positions(text, "path")
                line, column = found[index] if len(found) == len(blocks) else (None, None)
                raise _error(f"path {_q(label)}: {exc}", line, column, label) from None
    except _Problem as exc:
        raise _error(str(exc)) from None
    except RecursionError:
        raise _error("values are nested too deeply") from None
    return Policy(name=name, text=text, rules=tuple(rules))
