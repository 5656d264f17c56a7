"""Crypto facade: the only module that touches PyNaCl / libsodium directly.

Everything here is sans-I/O: bytes in, bytes out. Randomness is passed in as
``rng`` (a callable ``n -> bytes``) where callers need determinism in tests;
the default is the operating system's CSPRNG.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Callable

from nacl import bindings as _b
from nacl.exceptions import BadSignatureError, CryptoError

from sneakersync.errors import AuthError, PayloadError, UsageError

Rng = Callable[[int], bytes]

SIGN_SEED_LEN = 32
SIGN_PUB_LEN = 32
SIG_LEN = 64
X25519_LEN = 32
AEAD_KEY_LEN = 32
AEAD_NONCE_LEN = 12
AEAD_TAG_LEN = 16


def system_rng(n: int) -> bytes:
    return os.urandom(n)


def _check_len(name: str, value: bytes, n: int) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != n:
        raise UsageError(f"{name} must be {n} bytes")


# --- hashing ------------------------------------------------------------------------

def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF (RFC 5869) with SHA-256."""
    if not salt:
        salt = b"\x00" * 32
    prk = hmac_sha256(salt, ikm)
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac_sha256(prk, block + info + bytes([counter]))
        out += block
        counter += 1
    return out[:length]


def ct_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


# --- Ed25519 --------------------------------------------------------------------------

def sign_keypair(seed: bytes) -> tuple[bytes, bytes]:
    """Return (public key, secret key in libsodium's 64-byte form) for a 32-byte seed."""
    _check_len("signing seed", seed, SIGN_SEED_LEN)
    pk, sk = _b.crypto_sign_seed_keypair(seed)
    return pk, sk


def sign(secret64: bytes, message: bytes) -> bytes:
    """Detached Ed25519 signature (64 bytes)."""
    _check_len("signing key", secret64, 64)
    return _b.crypto_sign(message, secret64)[:SIG_LEN]


def verify(public: bytes, message: bytes, signature: bytes) -> None:
    """Raise :class:`AuthError` unless ``signature`` is valid for ``message``."""
    if len(public) != SIGN_PUB_LEN or len(signature) != SIG_LEN:
        raise AuthError("signature or key has the wrong length")
    try:
        _b.crypto_sign_open(signature + message, public)
    except (BadSignatureError, CryptoError, ValueError) as exc:
        raise AuthError("signature does not verify") from exc


# --- X25519 ---------------------------------------------------------------------------

def x25519_public(secret: bytes) -> bytes:
    _check_len("X25519 secret", secret, X25519_LEN)
    return _b.crypto_scalarmult_base(secret)


def x25519(secret: bytes, public: bytes) -> bytes:
    """Raw X25519. Raises :class:`PayloadError` on an all-zero (low order) result."""
    _check_len("X25519 secret", secret, X25519_LEN)
    _check_len("X25519 public", public, X25519_LEN)
    try:
        shared = _b.crypto_scalarmult(secret, public)
    except (CryptoError, RuntimeError, ValueError) as exc:  # libsodium refuses low-order points
        raise PayloadError("X25519 produced the all-zero value") from exc
    if shared == b"\x00" * 32:
        raise PayloadError("X25519 produced the all-zero value")
    return shared


# --- ChaCha20-Poly1305 (IETF) ---------------------------------------------------------

def aead_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    _check_len("AEAD key", key, AEAD_KEY_LEN)
    _check_len("AEAD nonce", nonce, AEAD_NONCE_LEN)
    return _b.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, aad or None, nonce, key)


def aead_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes = b"") -> bytes:
    """Decrypt and authenticate. Raises :class:`PayloadError` on any failure."""
    _check_len("AEAD key", key, AEAD_KEY_LEN)
    _check_len("AEAD nonce", nonce, AEAD_NONCE_LEN)
    try:
        return _b.crypto_aead_chacha20poly1305_ietf_decrypt(ciphertext, aad or None, nonce, key)
    except (CryptoError, ValueError) as exc:
        raise PayloadError("authentication tag does not verify") from exc
