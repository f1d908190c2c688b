"""Quorum operations: rekeying the unseal (or recovery) shares (`rekey.py`) and generating a new root
token (`generate_root.py`), both authorized by a quorum of the current key holders.

Each holder enters a share; when the threshold is reached the shares are combined and checked against
the store before anything happens (`attempt.py` holds what both repeat). What the shares protect is a
key target (`targets.py`), reached through `SealState`'s public operations only. Both improve on Vault
in one way: a share that is not one of the current shares is refused when it is submitted (400) and
the progress is kept, instead of failing the whole attempt at the threshold. The wording of every
other answer follows Vault/OpenBao; where the legacy and the authenticated endpoints word things
differently, each API passes its own `Wording`.
"""
