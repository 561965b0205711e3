"""Encryption at rest of passwords, client secrets and tokens.

AES-256-GCM (``cryptography``'s AESGCM): authenticated encryption whose
associated data binds each token to where it is stored ("model,id,field"),
so a ciphertext copied into another record or field does not decrypt. Fernet
has no associated data, which is why it is not used here.

Keys live outside the database: the caller reads them from its own
configuration file or the environment). Several comma-separated keys may be
given: the first encrypts, all decrypt, so a key can be rotated without
losing what was stored under the previous one.

Token format: ``v1:<key id>:<urlsafe base64 of nonce + ciphertext>``, where
the key id is a short fingerprint of the key (not the key).
"""

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import MailSyncError

VERSION = "v1"
_NONCE_BYTES = 12


class SecretsError(MailSyncError):
    code = "secrets"


class MissingKey(SecretsError):
    code = "missing_key"

    def __init__(self):
        super().__init__(
            "No encryption key was given for stored mail secrets: give one or more keys of 32 random "
            "bytes in urlsafe base64 (generate_key() makes one)."
        )


class InvalidKey(SecretsError):
    code = "invalid_key"

    def __init__(self, position):
        super().__init__(
            f"Encryption key #{position} is not valid: a key is 32 random bytes in urlsafe base64 "
            "(44 characters, as generate_key() makes)."
        )


class DecryptionFailed(SecretsError):
    code = "decryption_failed"

    def __init__(self):
        super().__init__(
            "A stored secret could not be decrypted: the key changed, or the value was altered "
            "or copied from elsewhere. Enter the secret again."
        )


class UnknownKey(DecryptionFailed):
    """The token was encrypted with a key that is not (or no longer) configured:
    a configuration problem, not a wrong secret."""

    code = "unknown_key"

    def __init__(self, key_id):
        MailSyncError.__init__(
            self,
            f"A stored secret was encrypted with key {key_id}, which is not among the configured keys: "
            "give that key again (after the current one), or enter the secret again.",
        )
        self.key_id = key_id


def token_key_id(token):
    """The key id a token names (``v1:<key id>:...``), or None for anything
    that is not a token of this module."""
    if not is_encrypted(token):
        return None
    return token.split(":", 2)[1]


def generate_key():
    """A new random key, as text to paste into the configuration."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _key_id(key):
    return hashlib.sha256(b"crm_mail_sync key id" + key).hexdigest()[:8]


def load_keys(text):
    """Parse one key or several comma-separated keys (first = current)."""
    entries = [entry.strip() for entry in (text or "").split(",") if entry.strip()]
    if not entries:
        raise MissingKey()
    keys = []
    for position, entry in enumerate(entries, 1):
        try:
            key = base64.urlsafe_b64decode(entry.encode())
        except (binascii.Error, ValueError):
            raise InvalidKey(position) from None
        if len(key) != 32:
            raise InvalidKey(position)
        keys.append(key)
    return keys


class SecretBox:
    """Encrypts and decrypts secrets with the configured keys."""

    def __init__(self, keys):
        if not keys:
            raise MissingKey()
        self._ciphers = {_key_id(key): AESGCM(key) for key in keys}
        self._current = _key_id(keys[0])

    def __repr__(self):
        return f"<SecretBox current key {self._current}, {len(self._ciphers)} key(s)>"

    def encrypt(self, plaintext, context=""):
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._current].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{VERSION}:{self._current}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token, context=""):
        """The clear text of ``token``.

        :raises UnknownKey: the token names a key that is not configured
        :raises DecryptionFailed: anything else (altered, copied, not a token)
        """
        try:
            version, key_id, payload = token.split(":", 2)
            blob = base64.urlsafe_b64decode(payload.encode())
        except (AttributeError, ValueError, binascii.Error):
            raise DecryptionFailed() from None
        if version != VERSION or len(blob) <= _NONCE_BYTES:
            raise DecryptionFailed()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKey(key_id)
        try:
            plaintext = cipher.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise DecryptionFailed() from None
        return plaintext.decode()

    def rotate(self, token, context=""):
        """The same secret, encrypted with the current key."""
        return self.encrypt(self.decrypt(token, context), context)

    def needs_rotation(self, token):
        return not token.startswith(f"{VERSION}:{self._current}:")

    @property
    def current_key_id(self):
        """The id of the key that encrypts (the first one)."""
        return self._current

    def knows(self, token):
        """Whether one of the configured keys is the one ``token`` names
        (says nothing about the token being intact)."""
        return token_key_id(token) in self._ciphers


def is_encrypted(value):
    return isinstance(value, str) and value.startswith(f"{VERSION}:") and value.count(":") >= 2
