"""ACL policies, as OpenBao's `internal/vault/policy`: the language (`language`), its evaluation (`acl`) and
the store of named policies behind the barrier (`store`). Each layer imports only the ones before it."""

from strongroom.core.policy.acl import ACL, OPERATIONS, Authorization
from strongroom.core.policy.language import (
    CAPABILITIES,
    DEFAULT_POLICY_TEXT,
    ROOT_POLICY,
    PathRule,
    Policy,
    PolicySyntaxError,
    parse_policy,
    validate_policy_name,
)
from strongroom.core.policy.store import MAX_POLICY_BYTES, POLICY_PREFIX, PolicyStore

__all__ = [
    "ACL",
    "Authorization",
    "CAPABILITIES",
    "DEFAULT_POLICY_TEXT",
    "MAX_POLICY_BYTES",
    "OPERATIONS",
    "POLICY_PREFIX",
    "PathRule",
    "Policy",
    "PolicyStore",
    "PolicySyntaxError",
    "ROOT_POLICY",
    "parse_policy",
    "validate_policy_name",
]
