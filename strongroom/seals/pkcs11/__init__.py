"""The pkcs11 seal: the root key wrapped by an AES key that never leaves a PKCS#11 device (an HSM).

    seal "pkcs11" {
      lib          = "/usr/lib/softhsm/libsofthsm2.so"
      token_label  = "strongroom"          # or slot = "0"
      pin          = "env://HSM_PIN"       # or STRONGROOM_HSM_PIN / BAO_HSM_PIN / VAULT_HSM_PIN
      key_label    = "strongroom-root"
      mechanism    = "0x1087"              # CKM_AES_GCM, the default
      generate_key = "true"                # make the key on first use when the token has none
    }

One concept per module: `settings` (the options, as Vault's and OpenBao's), `blob` (the wrap format),
`process` (what the seals of one process share: the HSM thread and the logins per token), `errors` and
`seal` (`Pkcs11Seal`, the sessions, keys and operations of one seal).
"""

from strongroom.seals.pkcs11.blob import parse_blob
from strongroom.seals.pkcs11.errors import HsmRefused, PinRefused
from strongroom.seals.pkcs11.seal import Pkcs11Seal, from_options
from strongroom.seals.pkcs11.settings import CKM_AES_GCM, PIN_VARIABLES, Pkcs11Settings

__all__ = [
    "CKM_AES_GCM",
    "PIN_VARIABLES",
    "HsmRefused",
    "PinRefused",
    "Pkcs11Seal",
    "Pkcs11Settings",
    "from_options",
    "parse_blob",
]
