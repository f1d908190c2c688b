"""Vault's user lockout: after `threshold` wrong logins for one user of a userpass or approle mount, with no more
than `counter_reset` between them, the user's logins are refused (403) for `duration`, without their credentials
being checked; a successful login clears the count. `sys/locked-users` lists and unlocks.

The counts live in storage, behind the barrier, so that every process and node sees the same: logins are written
by the keeper of the active node (workers and standbys forward them), and a failover or restart keeps them.
"""

from strongroom.core.lockout.policy import LOCKOUT_AUTH_METHODS, LockoutPolicy, LockoutRule
from strongroom.core.lockout.store import LockedUser, UserLockouts

__all__ = ["LOCKOUT_AUTH_METHODS", "LockedUser", "LockoutPolicy", "LockoutRule", "UserLockouts"]
