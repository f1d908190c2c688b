"""The transit secrets engine ("encryption as a service"), with Vault's and OpenBao's endpoints, parameters,
answers and messages, so that `bao`/`vault` CLIs, hvac and Vault's transit auto-unseal work against it unchanged.

Endpoints (relative to the mount), by the module that answers them:

    keys_api.py     keys/                         LIST the key names (after, limit)
                    keys/<name>                   create (POST), read, delete (only with deletion_allowed)
                    keys/<name>/config            min_decryption_version, min_encryption_version, deletion_allowed,
                                                  exportable, allow_plaintext_backup, auto_rotate_period
                    keys/<name>/rotate            a new latest version
                    keys/<name>/trim              forget versions below min_available_version
                    keys/<name>/soft-delete       (DELETE) refuse every use until soft-delete-restore (OpenBao)
                    keys/<name>/soft-delete-restore
    encryption.py   encrypt/<name>                creates an aes256-gcm96 key on first use (upsert), unless
                                                  config/keys has disable_upsert; the ACL sees that write as `create`
                    decrypt/<name>, rewrap/<name> (+ batch_input, like encrypt)
                    datakey/plaintext|wrapped/<name>   bits 128, 256 or 512
    signing.py      hmac/<name>[/<algorithm>]     (+ batch_input, key_version)
                    sign/<name>[/<algorithm>]     (+ batch_input; marshaling_algorithm, signature_algorithm,
                                                  prehashed, salt_length)
                    verify/<name>[/<algorithm>]   a signature or an hmac (+ batch_input)
    utilities.py    hash[/<algorithm>]            sha2-224/256/384/512, sha3-224/256/384/512; format hex or base64
                    random[/<source>][/<bytes>]   format hex or base64; source platform, seal or all
    export.py       export/<type>/<name>[/<version>]   encryption-key, signing-key, hmac-key, public-key
                    backup/<name>, restore[/<name>]    Vault's backup format (so keys move between Vault, OpenBao
                                                       and us)
    config.py       cache-config                  size of the in-memory key cache (0: unlimited, else at least 10)
                    config/keys                   disable_upsert

`engine.py` holds the mount's state (`TransitEngine`: keys in storage and in memory, invalidation), `backend.py`
the route table and the factory; every endpoint is a function of (engine, request, match). The key model is
`key.py` (`TransitKey`, a ring of `KeyVersion`s of a `KeyType`) with `signatures.py`; what goes over the wire
is `wire.py` (Go's base64, atoi and times, `vault:v<N>:`), `backup.py` (Vault's backup JSON) and
`key_formats.py` (exported keys).
The cryptography itself is not transit's own: ciphers, key derivation, key generation, signatures and key
encodings are `strongroom.crypto`'s (`aead`, `kdf`, `signing`, `rsa_oaep`, `hashing`; the hazardous raw PKCS#1
v1.5 signing of a caller's DigestInfo is `pkcs1`); an import-linter contract keeps `cryptography` out of here.

Errors: every layer here, the key model included, raises the logical errors with Vault's messages: BadRequest
for the caller's mistake, StrongroomError (500) for an internal failure, NotFound. There is no error tree of
transit's own and so no translation: the HTTP layer maps these statuses like any engine's. A batch records an
item's error (`batch.run_items`) and tells the caller's from the internal ones by class. A batch in which some
items fail answers, as Vault does, with every item's result and status 400 (500 for an internal failure, or the
caller's partial_failure_response_code when some items succeeded): that is `batch.BatchFailure`, whose
`response` and `status` the HTTP layer sends as they are. Where Vault answers a caller's mistake with 500 (a bad
backup, an unknown key on backup, a derived ECDSA key), this engine answers 400 with the same message.
"""

from strongroom.engines.transit.backend import transit_backend, transit_routes
from strongroom.engines.transit.engine import TransitEngine

__all__ = ["TransitEngine", "transit_backend", "transit_routes"]
