"""A chargestation's authorization key: the HTTP Basic password of OCPP security profiles 1 and 2.

Pure (no Django), like webhook signing. A key is 20 random letters and digits (about 119 bits), so that
one key fits both protocols' limits:
- OCPP 1.6 (security whitepaper): the password is 16 to 20 bytes, and the `AuthorizationKey`
  configuration key carries it hex-encoded, at most 40 hex characters: this key's hex is exactly 40;
- OCPP 2.0.1: `BasicAuthPassword` is a passwordString of 16 to 40 characters.
Letters and digits only: nothing a charger's configuration page, a shell or Basic's `user:password`
could mangle.

Only the key's SHA-256 is stored. A slow password hash would buy nothing here (the key is random and
long, not a person's password) and would cost every charger's handshake.
"""

import hashlib
import hmac
import secrets
import string

LENGTH = 20
ALPHABET = string.ascii_letters + string.digits


def authorization_key_new() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def authorization_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def authorization_key_matches(*, key: str, key_hash: str) -> bool:
    """Whether `key` is the one `key_hash` was made from; in constant time. No hash matches nothing."""
    return bool(key_hash) and hmac.compare_digest(authorization_key_hash(key), key_hash)


def authorization_key_hex(key: str) -> str:
    """The value of OCPP 1.6's `AuthorizationKey` (ChangeConfiguration) that makes `key` the password."""
    return key.encode().hex()
