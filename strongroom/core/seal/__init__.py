"""The seal state machine (uninitialized → sealed → unsealed): its one owner (`state.SealState`) and
the lifecycle steps that change it, one file each: init, unseal, migration, autoseal, sealing, status."""
