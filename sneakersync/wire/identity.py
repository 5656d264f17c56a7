"""Device identity and the identity card (sans-I/O).

A device owns an Ed25519 signing key and an X25519 encryption key.  Its id is
derived from both public keys, so a card whose keys were swapped or edited no
longer matches its id.  The card format is specified in
``formats/identity-card-v1.md``.
"""

from __future__ import annotations

import base64
import unicodedata
from dataclasses import dataclass

from sneakersync.wire import crypto
from sneakersync.errors import CardError, UsageError

CARD_PREFIX = "SNK1:"
KIND_DEVICE = 1
KIND_SERVER = 2
KINDS = {KIND_DEVICE: "device", KIND_SERVER: "server"}
DEVICE_ID_LEN = 10
MAX_NAME_BYTES = 64
CHECKSUM_LEN = 4
_ID_DOMAIN = b"sneakersync device id v1\x00"


def derive_device_id(sign_public: bytes, enc_public: bytes) -> bytes:
    """10-byte device id: SHA-256(domain || Ed25519 public || X25519 public)[:10]."""
    return crypto.sha256(_ID_DOMAIN + sign_public + enc_public)[:DEVICE_ID_LEN]


def id_text(raw_id: bytes) -> str:
    """Device id as 16 lowercase base32 characters."""
    return base64.b32encode(raw_id).decode("ascii").lower()


def parse_id_text(text: object) -> bytes | None:
    """The 10 raw bytes of a device id written as text, or None if it is not one."""
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b32decode(text.upper())
    except (ValueError, TypeError):
        return None
    if len(raw) != DEVICE_ID_LEN or id_text(raw) != text:
        return None
    return raw


def normalise_name(name: str) -> str:
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise UsageError("a device name must not be empty")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise UsageError(f"a device name must be at most {MAX_NAME_BYTES} bytes in UTF-8")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise UsageError("a device name must not contain control characters")
    return name


@dataclass(frozen=True)
class Card:
    """What a device tells others about itself: public keys and a display name."""

    name: str
    sign_public: bytes
    enc_public: bytes
    kind: int = KIND_DEVICE

    @property
    def raw_id(self) -> bytes:
        return derive_device_id(self.sign_public, self.enc_public)

    @property
    def device_id(self) -> str:
        return id_text(self.raw_id)

    @property
    def kind_name(self) -> str:
        return KINDS.get(self.kind, "unknown")

    def encode(self) -> str:
        return encode_card(self)


@dataclass(frozen=True)
class DeviceKeys:
    """Private key material of one device. Never leaves the home folder."""

    sign_seed: bytes
    enc_secret: bytes

    def __post_init__(self) -> None:
        if len(self.sign_seed) != 32 or len(self.enc_secret) != 32:
            raise UsageError("device keys must be 32 bytes each")

    @classmethod
    def generate(cls, rng: crypto.Rng = crypto.system_rng) -> "DeviceKeys":
        return cls(sign_seed=rng(32), enc_secret=rng(32))

    @property
    def sign_public(self) -> bytes:
        return crypto.sign_keypair(self.sign_seed)[0]

    @property
    def sign_secret(self) -> bytes:
        return crypto.sign_keypair(self.sign_seed)[1]

    @property
    def enc_public(self) -> bytes:
        return crypto.x25519_public(self.enc_secret)

    @property
    def raw_id(self) -> bytes:
        return derive_device_id(self.sign_public, self.enc_public)

    @property
    def device_id(self) -> str:
        return id_text(self.raw_id)

    def card(self, name: str, kind: int = KIND_DEVICE) -> Card:
        return Card(name=normalise_name(name), sign_public=self.sign_public,
                    enc_public=self.enc_public, kind=kind)


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def _unb32(text: str) -> bytes:
    pad = "=" * (-len(text) % 8)
    try:
        raw = base64.b32decode(text + pad, casefold=False)
    except (ValueError, TypeError) as exc:
        raise CardError("identity card is not valid base32") from exc
    if _b32(raw) != text:
        raise CardError("identity card base32 is not canonical")
    return raw


def encode_card(card: Card) -> str:
    """Card as one ASCII string in QR alphanumeric characters."""
    name = normalise_name(card.name).encode("utf-8")
    if card.kind not in KINDS:
        raise UsageError("unknown card kind")
    body = (bytes([1, card.kind]) + card.raw_id + card.sign_public + card.enc_public
            + bytes([len(name)]) + name)
    checksum = crypto.sha256(CARD_PREFIX.encode("ascii") + body)[:CHECKSUM_LEN]
    return CARD_PREFIX + _b32(body + checksum)


def decode_card(text: str) -> Card:
    """Parse and check a card; :class:`CardError` names what is wrong."""
    if not isinstance(text, str):
        raise CardError("identity card must be text")
    text = "".join(text.split())  # tolerate line breaks and spaces from copy/paste
    if not text.upper().startswith(CARD_PREFIX):
        raise CardError(f"not an identity card (it should start with {CARD_PREFIX})")
    raw = _unb32(text[len(CARD_PREFIX):].upper())
    if len(raw) < 2 + DEVICE_ID_LEN + 64 + 1 + 1 + CHECKSUM_LEN:
        raise CardError("identity card is truncated")
    body, checksum = raw[:-CHECKSUM_LEN], raw[-CHECKSUM_LEN:]
    if not crypto.ct_equal(crypto.sha256(CARD_PREFIX.encode("ascii") + body)[:CHECKSUM_LEN], checksum):
        raise CardError("identity card checksum does not match (mistyped or damaged)")
    if body[0] != 1:
        raise CardError(f"identity card version {body[0]} is not supported")
    kind = body[1]
    if kind not in KINDS:
        raise CardError(f"identity card kind {kind} is unknown")
    pos = 2
    raw_id = body[pos:pos + DEVICE_ID_LEN]
    pos += DEVICE_ID_LEN
    sign_public = body[pos:pos + 32]
    enc_public = body[pos + 32:pos + 64]
    pos += 64
    name_len = body[pos]
    pos += 1
    name_bytes = body[pos:]
    if name_len == 0 or name_len > MAX_NAME_BYTES or len(name_bytes) != name_len:
        raise CardError("identity card name length is invalid")
    try:
        name = name_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CardError("identity card name is not UTF-8") from exc
    try:
        if normalise_name(name) != name:
            raise CardError("identity card name is not in canonical form")
    except UsageError as exc:
        raise CardError(f"identity card name is invalid: {exc}") from exc
    if derive_device_id(sign_public, enc_public) != raw_id:
        raise CardError("identity card keys do not match its device id (swapped or edited key)")
    if enc_public == b"\x00" * 32:
        raise CardError("identity card encryption key is invalid")
    return Card(name=name, sign_public=sign_public, enc_public=enc_public, kind=kind)
