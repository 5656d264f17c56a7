"""A device's secrets sealed under its passphrase (``keys/identity.sealed``).

Format: ``formats/keys-v1.md``.  The passphrase goes through Argon2id (PyNaCl's
``pwhash.argon2id``, memory-hard) to a 32-byte key that opens an
XChaCha20-Poly1305 box (PyNaCl's AEAD binding) holding the signing seed, the
agreement secret, the store key (the SQLCipher key of ``store.db``) and the
device's name and kind.  The header (format, KDF parameters, salt) is the
associated data, so none of it can be changed without the open failing.

Real homes use libsodium's MODERATE limits (3 passes, 256 MiB).  Tests may set
``SNEAKERSYNC_TEST_WEAK_KDF=1`` to seal with the library's minimum (1 pass,
8 KiB) so a suite that creates hundreds of homes stays fast; that setting is
for tests only and ``whoami`` says so when a home was sealed under it.
"""

from __future__ import annotations

import base64
import json
import os
import unicodedata
from dataclasses import dataclass

from nacl import bindings
from nacl import pwhash

from sneakersync.errors import LockedError, StoreError, UsageError
from sneakersync.wire import crypto

FORMAT = "sneakersync-keys-v1"
ALG = "argon2id13"
SALT_LEN = pwhash.argon2id.SALTBYTES  # 16
NONCE_LEN = bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
PAD_TO = 512  # sealed plaintext length: the file size does not tell the name's length
MAX_FILE = 4096
MAX_PASSPHRASE_BYTES = 1024
ENV_PASSPHRASE = "SNEAKERSYNC_PASSPHRASE"
ENV_PASSPHRASE_FILE = "SNEAKERSYNC_PASSPHRASE_FILE"
ENV_TEST_KDF = "SNEAKERSYNC_TEST_WEAK_KDF"


@dataclass(frozen=True)
class KdfParams:
    ops: int
    mem: int

    @property
    def weak(self) -> bool:
        return self.ops < REAL.ops or self.mem < REAL.mem


REAL = KdfParams(pwhash.argon2id.OPSLIMIT_MODERATE, pwhash.argon2id.MEMLIMIT_MODERATE)
TEST = KdfParams(pwhash.argon2id.OPSLIMIT_MIN, pwhash.argon2id.MEMLIMIT_MIN)
# bounds a sealed file may name (a crafted file must not make us spend minutes or GiBs)
MAX_OPS = pwhash.argon2id.OPSLIMIT_SENSITIVE * 4
MAX_MEM = pwhash.argon2id.MEMLIMIT_SENSITIVE


def creation_params() -> KdfParams:
    """MODERATE for real homes; the library minimum only when a test asks for it."""
    return TEST if os.environ.get(ENV_TEST_KDF) == "1" else REAL


@dataclass(frozen=True)
class Secrets:
    name: str
    kind: str
    sign_seed: bytes
    enc_secret: bytes
    store_key: bytes


def encode_passphrase(passphrase: str) -> bytes:
    """NFC-normalised UTF-8; refuses an empty or oversized passphrase."""
    data = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    if not data:
        raise UsageError("the passphrase is empty")
    if len(data) > MAX_PASSPHRASE_BYTES:
        raise UsageError(f"the passphrase is longer than {MAX_PASSPHRASE_BYTES} bytes")
    return data


def _ad(params: KdfParams, salt: bytes) -> bytes:
    return f"{FORMAT}\n{ALG} {params.ops} {params.mem}\n".encode() + salt


def _kek(passphrase: str, params: KdfParams, salt: bytes) -> bytes:
    return bytes(pwhash.argon2id.kdf(32, encode_passphrase(passphrase), salt,
                                     opslimit=params.ops, memlimit=params.mem))


def seal(secrets: Secrets, passphrase: str, *, params: KdfParams | None = None,
         rng: crypto.Rng = crypto.system_rng) -> bytes:
    """The bytes of a sealed key file."""
    params = params or creation_params()
    salt, nonce = rng(SALT_LEN), rng(NONCE_LEN)
    inner = encode_secrets(secrets)
    ct = bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        inner, _ad(params, salt), nonce, _kek(passphrase, params, salt))
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    doc = {"format": FORMAT, "kdf": {"alg": ALG, "ops": params.ops, "mem": params.mem,
                                     "salt": b64(salt)},
           "nonce": b64(nonce), "sealed": b64(ct)}
    return (json.dumps(doc, indent=1) + "\n").encode()


def params_of(data: bytes) -> KdfParams:
    return _parse(data)[0]


def _parse(data: bytes) -> tuple[KdfParams, bytes, bytes, bytes]:
    """Check order: size, JSON, format, alg, bounds, base64 lengths (before any KDF)."""
    def bad(why: str) -> StoreError:
        return StoreError(f"the sealed key file is damaged: {why}")

    if len(data) > MAX_FILE:
        raise bad("too large")
    try:
        doc = json.loads(data)
        kdf = doc["kdf"]
        if doc["format"] != FORMAT or kdf["alg"] != ALG:
            raise bad(f"unknown format {doc['format']!r}/{kdf['alg']!r}")
        ops, mem = kdf["ops"], kdf["mem"]
        if (type(ops) is not int or type(mem) is not int
                or not TEST.ops <= ops <= MAX_OPS or not TEST.mem <= mem <= MAX_MEM):
            raise bad("KDF parameters out of bounds")
        salt = base64.b64decode(kdf["salt"], validate=True)
        nonce = base64.b64decode(doc["nonce"], validate=True)
        ct = base64.b64decode(doc["sealed"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise bad(str(exc)) from exc
    if len(salt) != SALT_LEN or len(nonce) != NONCE_LEN or len(ct) != PAD_TO + 16:
        raise bad("field lengths")
    return KdfParams(ops, mem), salt, nonce, ct


def unseal(data: bytes, passphrase: str) -> Secrets:
    """Open a sealed key file; a wrong passphrase is one :class:`LockedError`."""
    params, salt, nonce, ct = _parse(data)
    try:
        inner = bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ct, _ad(params, salt), nonce, _kek(passphrase, params, salt))
    except Exception as exc:  # nacl.exceptions.CryptoError: wrong passphrase or tampered
        raise LockedError("wrong passphrase (or the sealed key file was altered)",
                          hints=("a forgotten passphrase cannot be recovered: set this "
                                 "device up again with `init` in a new home",)) from exc
    return decode_secrets(inner)


def encode_secrets(secrets: Secrets) -> bytes:
    """The sealed plaintext: compact ASCII JSON padded with spaces to ``PAD_TO`` bytes."""
    inner = json.dumps({"name": secrets.name, "kind": secrets.kind,
                        "sign": secrets.sign_seed.hex(), "enc": secrets.enc_secret.hex(),
                        "store": secrets.store_key.hex()}, ensure_ascii=True,
                       separators=(",", ":")).encode()
    if len(inner) > PAD_TO:
        raise UsageError("device name too long to seal")
    return inner + b" " * (PAD_TO - len(inner))


def decode_secrets(inner: bytes) -> Secrets:
    """The secrets from a sealed plaintext (or an unlock agent's copy of one)."""
    if len(inner) != PAD_TO:
        raise StoreError("the sealed key file is damaged: plaintext length")
    try:
        obj = json.loads(inner)
        out = Secrets(name=str(obj["name"]), kind=str(obj["kind"]),
                      sign_seed=bytes.fromhex(obj["sign"]), enc_secret=bytes.fromhex(obj["enc"]),
                      store_key=bytes.fromhex(obj["store"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"the sealed key file is damaged: {exc}") from exc
    if not len(out.sign_seed) == len(out.enc_secret) == len(out.store_key) == 32:
        raise StoreError("the sealed key file is damaged: key lengths")
    return out


def passphrase_from_env() -> str | None:
    """``SNEAKERSYNC_PASSPHRASE``, else the first line of ``SNEAKERSYNC_PASSPHRASE_FILE``."""
    got = os.environ.get(ENV_PASSPHRASE)
    if got:
        return got
    path = os.environ.get(ENV_PASSPHRASE_FILE)
    if path:
        return read_passphrase_file(path)
    return None


def read_passphrase_file(path: str) -> str:
    """First line of a small file (e.g. a key file on separate media for a server)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_PASSPHRASE_BYTES + 2)
    except OSError as exc:
        raise LockedError(f"cannot read the passphrase file {path}: {exc.strerror}",
                          hints=("is the key medium mounted?",)) from exc
    return read_passphrase_bytes(data, path)


def read_passphrase_bytes(data: bytes, where: str) -> str:
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    if len(line) > MAX_PASSPHRASE_BYTES:
        raise UsageError(f"the passphrase in {where} is longer than {MAX_PASSPHRASE_BYTES} bytes")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"the passphrase in {where} is not UTF-8") from exc
    if not text:
        raise UsageError(f"{where} holds an empty passphrase")
    return text


def read_passphrase_fd(fd: int) -> str:
    """Read one line from an inherited file descriptor (``--passphrase-fd N``)."""
    chunks = b""
    try:
        while b"\n" not in chunks and len(chunks) <= MAX_PASSPHRASE_BYTES:
            got = os.read(fd, 4096)
            if not got:
                break
            chunks += got
    except OSError as exc:
        raise UsageError(f"cannot read a passphrase from file descriptor {fd}: "
                         f"{exc.strerror}") from exc
    return read_passphrase_bytes(chunks, f"file descriptor {fd}")
