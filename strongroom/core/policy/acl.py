"""ACL evaluation with Vault's semantics: which capabilities a token's policies grant on a path
(``sys/capabilities``) and whether a request is authorised (`ACL.authorize`).

Pure logic, no I/O. Policies are parsed by `strongroom.core.policy.language`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strongroom.core.policy.language import PathRule, Policy

__all__ = ["ACL", "OPERATIONS", "Authorization"]

# Operations understood by ACL.authorize and the capability each one needs.
# revoke/renew/rollback reuse "update", as in Vault.
_OPERATION_CAPABILITY = {
    "create": "create",
    "read": "read",
    "update": "update",
    "patch": "patch",
    "delete": "delete",
    "list": "list",
    "revoke": "update",
    "renew": "update",
    "rollback": "update",
}
OPERATIONS = tuple(_OPERATION_CAPABILITY) + ("help",)

# Operations whose request data are checked against parameter constraints.
# Vault checks "read" too (request data of a GET come from the query string).
_PARAMETER_CHECKED_OPERATIONS = frozenset({"read", "create", "update", "patch"})


@dataclass(frozen=True)
class Authorization:
    """Result of :meth:`ACL.authorize`.

    ``sudo`` tells whether the token holds ``sudo`` on the matched rule
    (regardless of whether the operation itself was allowed).  ``reason``
    never contains parameter values.
    """

    allowed: bool
    sudo: bool
    reason: str


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


class _Perms:
    """Merged permissions of all rules for one path string (Vault's
    ACLPermissions)."""

    __slots__ = ("caps", "allowed", "denied", "required", "min_ttl", "max_ttl")

    def __init__(self, rule: PathRule) -> None:
        self.caps: set[str] = set(rule.capabilities)
        self.allowed = {k: list(v) for k, v in rule.allowed_parameters.items()} or None
        self.denied = {k: list(v) for k, v in rule.denied_parameters.items()} or None
        self.required: list[str] = list(rule.required_parameters)
        self.min_ttl = rule.min_wrapping_ttl or 0
        self.max_ttl = rule.max_wrapping_ttl or 0

    def merge(self, rule: PathRule) -> None:
        if "deny" in self.caps:
            return
        if "deny" in rule.capabilities:
            self.caps = {"deny"}
            self.allowed = None
            self.denied = None
            return
        self.caps |= rule.capabilities
        # The lesser of two specified values wins, for both bounds.
        if (
            rule.max_wrapping_ttl
            and rule.max_wrapping_ttl > 0
            and (not self.max_ttl or rule.max_wrapping_ttl < self.max_ttl)
        ):
            self.max_ttl = rule.max_wrapping_ttl
        if (
            rule.min_wrapping_ttl
            and rule.min_wrapping_ttl > 0
            and (not self.min_ttl or rule.min_wrapping_ttl < self.min_ttl)
        ):
            self.min_ttl = rule.min_wrapping_ttl
        self.allowed = self._merge_params(self.allowed, rule.allowed_parameters)
        self.denied = self._merge_params(self.denied, rule.denied_parameters)
        for param in rule.required_parameters:
            if param not in self.required:
                self.required.append(param)

    @staticmethod
    def _merge_params(
        existing: dict[str, list[Any]] | None, new: Mapping[str, tuple[Any, ...]]
    ) -> dict[str, list[Any]] | None:
        if not new:
            return existing
        if existing is None:
            return {k: list(v) for k, v in new.items()}
        for key, values in new.items():
            # An empty list (any value) on either side wins over value lists.
            if not values or (key in existing and not existing[key]):
                existing[key] = []
            else:
                existing[key] = list(values) + existing.get(key, [])
        return existing


def _utf8_len(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


def _globbed_strings_match(item: str, val: str) -> bool:
    """strutil.GlobbedStringsMatch: a leading and/or trailing '*' in item."""
    if len(item) < 2:
        return val == item
    prefix, suffix = item.startswith("*"), item.endswith("*")
    if prefix and suffix:
        return item[1:-1] in val
    if prefix:
        return val.endswith(item[1:])
    if suffix:
        return val.startswith(item[:-1])
    return val == item


def _deep_equal(a: Any, b: Any) -> bool:
    """reflect.DeepEqual on decoded values: types must agree (bool is not an
    int, int is not a float)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    return a == b


def _value_in_list(value: Any, values: Sequence[Any]) -> bool:
    for el in values:
        if el is None or value is None:
            if el is value:
                return True
        elif isinstance(el, str):
            if isinstance(value, str) and _globbed_strings_match(el, value):
                return True
        elif _deep_equal(el, value):
            return True
    return False


def _comma_split(value: str) -> list[str]:
    """parseutil.ParseCommaStringSlice on a string."""
    if value == "":
        return []
    return [part.strip() for part in value.split(",")]


def _value_allowed(value: Any, values: Sequence[Any]) -> bool:
    if not values:
        return True
    if _value_in_list(value, values):
        return True
    # Vault's relaxed matching: every element of a list, or of a
    # comma-separated string, must be allowed.
    if isinstance(value, (list, tuple)):
        return all(_value_in_list(v, values) for v in value)
    if isinstance(value, str):
        return all(_value_in_list(v, values) for v in _comma_split(value))
    return False


def _value_denied(value: Any, values: Sequence[Any]) -> bool:
    if not values:
        return True
    if _value_in_list(value, values):
        return True
    # Any element of a list, or of a comma-separated string, that is denied
    # denies the request.
    if isinstance(value, (list, tuple)):
        return any(_value_in_list(v, values) for v in value)
    if isinstance(value, str):
        return any(_value_in_list(v, values) for v in _comma_split(value))
    return False


_DENIED = "permission denied"


class ACL:
    """The combined policies of a token (Vault's ACL)."""

    def __init__(self, policies: Sequence[Policy | None]) -> None:
        policies = list(policies)
        self.root = False
        self._exact: dict[str, _Perms] = {}
        self._prefix: dict[str, _Perms] = {}
        self._segment: dict[str, _Perms] = {}
        for policy in policies:
            if policy is None:
                continue
            if policy.name == "root":
                if len(policies) != 1:
                    raise ValueError("other policies present along with root")
                self.root = True
            for rule in policy.rules:
                if rule.templated:
                    continue  # no identity entity to fill the template in
                if rule.segment_wildcards:
                    table, key = self._segment, rule.path + ("*" if rule.glob else "")
                elif rule.glob:
                    table, key = self._prefix, rule.path
                else:
                    table, key = self._exact, rule.path
                existing = table.get(key)
                if existing is None:
                    table[key] = _Perms(rule)
                else:
                    existing.merge(rule)
        self.policy_names = tuple(p.name for p in policies if p is not None)

    def has_access_under(self, mount_path: str) -> bool:
        """Whether any rule grants something inside `mount_path` (Vault's check before revealing a mount)."""
        if self.root:
            return True
        for table in (self._exact, self._prefix, self._segment):
            for key, perms in table.items():
                if perms.caps - {"deny"} and (
                    key.startswith(mount_path) or mount_path.startswith(key) and table is self._prefix
                ):
                    return True
        return False

    # -- matching ----------------------------------------------------------

    def _non_exact(self, path: str) -> _Perms | None:
        best_key: tuple | None = None
        best: _Perms | None = None
        for i in range(len(path), -1, -1):
            perms = self._prefix.get(path[:i])
            if perms is not None:
                prefix = path[:i]
                if not self._segment:
                    return perms
                # (first wildcard position, not a glob, -#'+', length, path)
                best_key = (_utf8_len(prefix), False, 0, _utf8_len(prefix), prefix)
                best = perms
                break
        if not self._segment:
            return None
        parts = path.split("/")
        for full, perms in self._segment.items():
            is_prefix = full.endswith("*")
            pattern = full[:-1] if is_prefix else full
            pattern_parts = pattern.split("/")
            if len(parts) < len(pattern_parts):
                continue
            if not is_prefix and len(parts) != len(pattern_parts):
                continue
            wildcards = 0
            last = len(pattern_parts) - 1
            for i, part in enumerate(pattern_parts):
                if part == "+":
                    wildcards += 1
                elif part != parts[i] and not (is_prefix and i == last and parts[i].startswith(part)):
                    break
            else:
                first = _utf8_len(full[: full.index("+")])
                # Priority (higher wins): later first wildcard, not a glob,
                # fewer '+' segments, longer, lexicographically greater.
                key = (first, not is_prefix, -wildcards, _utf8_len(pattern), pattern)
                if best_key is None or key > best_key:
                    best_key, best = key, perms
        return best

    def _lookup(self, path: str, operation: str) -> _Perms | None:
        perms = self._exact.get(path)
        if perms is not None:
            return perms
        is_list = operation == "list"
        if is_list:
            trimmed = path[:-1] if path.endswith("/") else path
            perms = self._exact.get(trimmed)
            if perms is not None:
                return perms
            if path.endswith("/"):
                # A wildcard rule without the trailing slash also matches a
                # LIST of the path with one.
                perms = self._non_exact(trimmed)
                if perms is not None:
                    return perms
        return self._non_exact(path)

    # -- public API ----------------------------------------------------------

    def capabilities(self, path: str) -> list[str]:
        """What ``sys/capabilities`` returns for ``path``: a sorted list,
        ``["root"]`` for a root token and ``["deny"]`` when nothing is
        granted."""
        if self.root:
            return ["root"]
        perms = self._lookup(path.lstrip("/"), "list")
        if perms is None or "deny" in perms.caps or not perms.caps:
            return ["deny"]
        return sorted(perms.caps)

    def authorize(
        self,
        operation: str,
        path: str,
        data: Mapping[str, Any] | None = None,
        *,
        require_sudo: bool = False,
        wrap_ttl: int | float | None = None,
    ) -> Authorization:
        """Decide whether ``operation`` on ``path`` with request ``data`` is
        allowed.  ``require_sudo`` is set for root-protected paths.
        ``wrap_ttl`` is the requested response-wrapping TTL in seconds
        (``None`` when the request is not wrapped); it matters only for rules
        with min/max_wrapping_ttl."""
        if operation not in _OPERATION_CAPABILITY and operation != "help":
            raise ValueError(f"unknown operation {operation!r}")
        if self.root:
            return Authorization(True, True, "root")
        if operation == "help":
            return Authorization(True, False, "help is always allowed")

        perms = self._lookup(path.lstrip("/"), operation)
        if perms is None:
            return Authorization(False, False, _DENIED)
        caps = perms.caps
        sudo = "sudo" in caps
        if "deny" in caps:
            return Authorization(False, False, f"{_DENIED}: explicitly denied")
        if _OPERATION_CAPABILITY[operation] not in caps:
            return Authorization(False, sudo, _DENIED)

        if perms.max_ttl > 0 and (wrap_ttl is None or wrap_ttl > perms.max_ttl):
            return Authorization(
                False, sudo, f"{_DENIED}: response wrapping with a TTL of at most {perms.max_ttl}s is required"
            )
        if perms.min_ttl > 0 and (wrap_ttl is None or wrap_ttl < perms.min_ttl):
            return Authorization(
                False, sudo, f"{_DENIED}: response wrapping with a TTL of at least {perms.min_ttl}s is required"
            )
        if perms.min_ttl and perms.max_ttl and perms.max_ttl < perms.min_ttl:
            return Authorization(False, sudo, f"{_DENIED}: conflicting response wrapping TTL bounds")

        if operation in _PARAMETER_CHECKED_OPERATIONS:
            reason = self._check_parameters(perms, data or {})
            if reason is not None:
                return Authorization(False, sudo, reason)

        if require_sudo and not sudo:
            return Authorization(False, False, f"{_DENIED}: sudo capability required")
        return Authorization(True, sudo, "allowed")

    @staticmethod
    def _check_parameters(perms: _Perms, data: Mapping[str, Any]) -> str | None:
        for param in perms.required:
            if param.lower() not in data:
                return f"{_DENIED}: missing required parameter {_q(param.lower())}"
        if not data:
            return None
        if perms.denied:
            if "*" in perms.denied:
                return f"{_DENIED}: all parameters are denied"
            for param, value in data.items():
                values = perms.denied.get(str(param).lower())
                if values is not None and _value_denied(value, values):
                    return f"{_DENIED}: parameter {_q(str(param))} is denied"
        if not perms.allowed:
            return None
        allow_all = "*" in perms.allowed
        if allow_all and len(perms.allowed) == 1:
            return None
        for param, value in data.items():
            values = perms.allowed.get(str(param).lower())
            if values is None:
                if not allow_all:
                    return f"{_DENIED}: parameter {_q(str(param))} is not allowed"
            elif not _value_allowed(value, values):
                return f"{_DENIED}: value of parameter {_q(str(param))} is not allowed"
        return None
