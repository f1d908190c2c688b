"""The backends the core mounts itself, as Vault keeps them in its core package: the token store's auth
method (`auth/token/`), the cubbyhole (`cubbyhole/`) and the system backend (`sys/`)."""
