"""Beacon advertisement codec and recognition (sans-I/O), ``formats/beacon-v1.md``.

    build_advertisement(me, now=..., data_for=..., has_data_for_server=...) -> AD bytes
    parse_advertisement(ad) -> BeaconPayload          (structure only, no keys)
    recognise(ad, me, peers, now=...) -> Recognition  (who, and the hints)

Malformed input raises :class:`BeaconError`; a payload whose rotating id names a
known peer but whose check value fails raises :class:`AuthError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from sneakersync.wire import crypto
from sneakersync.errors import AuthError, BeaconError, PayloadError, UsageError
from sneakersync.wire import beacon_keys as K
from sneakersync.wire.beacon_keys import BeaconIdentity, PeerKeys

__all__ = [
    "BeaconIdentity", "PeerKeys", "BeaconPayload", "Recognition", "Recogniser",
    "build_advertisement", "build_payload", "parse_advertisement", "find_service_data",
    "recognise", "SERVICE_UUID16", "MAX_AD_LEN",
]

MAX_AD_LEN = 31
AD_FLAGS = 0x01
AD_SERVICE_DATA_16 = 0x16
FLAGS_VALUE = 0x06  # LE General Discoverable, BR/EDR not supported
SERVICE_UUID16 = 0xFFF5  # not SIG-assigned: see spec section 2
VERSION = 0x01
TAG_SLOTS = 3
PAYLOAD_LEN = 1 + K.RID_LEN + 1 + TAG_SLOTS * K.TAG_LEN + K.MAC_LEN  # 24
FLAG_DATA_FOR_SERVER = 0x01
_UUID_LE = SERVICE_UUID16.to_bytes(2, "little")


@dataclass(frozen=True)
class BeaconPayload:
    """The 24 service-data bytes after the UUID, split into fields (spec 3.2)."""

    rid: bytes
    masked_flags: int
    tags: tuple[bytes, ...]
    mac: bytes
    version: int = VERSION

    @property
    def body(self) -> bytes:
        """The bytes the check value covers: everything before it."""
        return bytes([self.version]) + self.rid + bytes([self.masked_flags]) + b"".join(self.tags)

    def encode(self) -> bytes:
        return self.body + self.mac

    @classmethod
    def decode(cls, data: bytes) -> "BeaconPayload":
        if len(data) < 1:
            raise BeaconError("beacon service data is empty")
        if data[0] != VERSION:
            raise BeaconError(f"unsupported beacon version {data[0]}")
        if len(data) != PAYLOAD_LEN:
            raise BeaconError(f"beacon payload is {len(data)} bytes, expected {PAYLOAD_LEN}")
        pos = 1 + K.RID_LEN
        rid, masked = data[1:pos], data[pos]
        pos += 1
        tags = tuple(data[pos + i * K.TAG_LEN: pos + (i + 1) * K.TAG_LEN] for i in range(TAG_SLOTS))
        return cls(rid=bytes(rid), masked_flags=masked, tags=tuple(bytes(t) for t in tags),
                   mac=bytes(data[-K.MAC_LEN:]))


@dataclass(frozen=True)
class Recognition:
    """What a scanner learns from one advertisement."""

    peer: PeerKeys | None
    rid: bytes
    epoch: int | None = None
    holds_data_for_me: bool = False
    has_data_for_server: bool = False

    @property
    def name(self) -> str | None:
        return self.peer.name if self.peer else None

    @property
    def verified(self) -> bool:
        return bool(self.peer and self.peer.verified)


# --- AD structures ---------------------------------------------------------------


def ad_structures(ad: bytes) -> list[tuple[int, bytes]]:
    """Split advertising data into (type, data) pairs (Core spec Vol 3, Part C, 11)."""
    if not isinstance(ad, (bytes, bytearray)):
        raise BeaconError("advertising data must be bytes")
    if len(ad) > MAX_AD_LEN:
        raise BeaconError(f"advertising data is {len(ad)} bytes, more than {MAX_AD_LEN}")
    out: list[tuple[int, bytes]] = []
    i = 0
    while i < len(ad):
        length = ad[i]
        if length == 0:  # end of the significant part: the rest must be zero padding
            if any(ad[i:]):
                raise BeaconError("non-zero bytes after the advertising data terminator")
            break
        if i + 1 + length > len(ad):
            raise BeaconError("advertising data structure runs past the end")
        out.append((ad[i + 1], bytes(ad[i + 2: i + 1 + length])))
        i += 1 + length
    return out


def _service_data(ad: bytes) -> bytes:
    found = [d[2:] for t, d in ad_structures(ad)
             if t == AD_SERVICE_DATA_16 and len(d) >= 2 and d[:2] == _UUID_LE]
    if not found:
        raise BeaconError("no sneakersync beacon service data")
    if len(found) > 1:
        raise BeaconError("more than one sneakersync beacon service data structure")
    return found[0]


def find_service_data(ad: bytes) -> bytes | None:
    """The beacon's service data, or None if ``ad`` is not (well-formed) ours. Never raises."""
    try:
        return _service_data(ad)
    except BeaconError:
        return None


def parse_advertisement(ad: bytes) -> BeaconPayload:
    """Parse full legacy advertising data (AD structures) into a :class:`BeaconPayload`."""
    return BeaconPayload.decode(_service_data(ad))


def service_data_ad(payload: bytes) -> bytes:
    return bytes([len(payload) + 3, AD_SERVICE_DATA_16]) + _UUID_LE + payload


# --- building ----------------------------------------------------------------------


def _selected(me: BeaconIdentity, data_for: Sequence[PeerKeys], epoch: int) -> list[PeerKeys]:
    """Up to TAG_SLOTS recipients; with more, a window that moves every epoch (spec 4.4)."""
    unique: dict[bytes, PeerKeys] = {}
    for peer in data_for:
        if peer.enc_public != me.enc_public:
            unique.setdefault(peer.enc_public, peer)
    ordered = [unique[k] for k in sorted(unique)]
    if len(ordered) <= TAG_SLOTS:
        return ordered
    start = (epoch * TAG_SLOTS) % len(ordered)
    return [ordered[(start + i) % len(ordered)] for i in range(TAG_SLOTS)]


def build_payload(me: BeaconIdentity, *, now: float, data_for: Sequence[PeerKeys] = (),
                  has_data_for_server: bool = False) -> BeaconPayload:
    epoch = K.epoch_of(now)
    k_id = K.id_key(me.enc_public, me.sign_public)
    tags: list[bytes] = []
    for peer in _selected(me, data_for, epoch):
        try:
            k_pair = K.pair_key(me.enc_secret, me.enc_public, peer.enc_public)
        except PayloadError as exc:
            raise UsageError(f"peer {peer.name!r} has an unusable encryption key") from exc
        tags.append(K.data_tag(k_pair, peer.enc_public, epoch))
    k_fill = K.private_key(me, b"fill")
    for slot in range(len(tags), TAG_SLOTS):
        tags.append(K.filler(k_fill, epoch, slot))
    flags = FLAG_DATA_FOR_SERVER if has_data_for_server else 0
    unsigned = BeaconPayload(rid=K.rotating_id(k_id, epoch),
                             masked_flags=flags ^ K.flags_mask(k_id, epoch),
                             tags=tuple(sorted(tags)), mac=b"")
    return BeaconPayload(rid=unsigned.rid, masked_flags=unsigned.masked_flags, tags=unsigned.tags,
                         mac=K.payload_mac(k_id, epoch, unsigned.body))


def build_advertisement(me: BeaconIdentity, *, now: float, data_for: Sequence[PeerKeys] = (),
                        has_data_for_server: bool = False) -> bytes:
    """Full legacy advertising data: Flags AD + service data AD, exactly 31 bytes."""
    payload = build_payload(me, now=now, data_for=data_for, has_data_for_server=has_data_for_server)
    return bytes([2, AD_FLAGS, FLAGS_VALUE]) + service_data_ad(payload.encode())


# --- recognising -------------------------------------------------------------------


class Recogniser:
    """Recognise advertisements of known peers; caches per-epoch lookup tables.

    For each epoch in now-1..now+1 it holds ``{rotating id: peer}``, so one
    advertisement costs a dictionary lookup plus, on a hit, three HMACs and one
    X25519 (cached per peer).
    """

    SKEW_EPOCHS = (0, -1, 1)  # current epoch first

    def __init__(self, me: BeaconIdentity, peers: Sequence[PeerKeys]) -> None:
        self.me = me
        self.peers = [p for p in peers if p.enc_public != me.enc_public]
        self._k_id = [K.id_key(p.enc_public, p.sign_public) for p in self.peers]
        self._tables: dict[int, dict[bytes, int]] = {}
        self._pair: dict[int, bytes | None] = {}

    def _table(self, epoch: int) -> dict[bytes, int]:
        table = self._tables.get(epoch)
        if table is None:
            if len(self._tables) > 8:
                self._tables.clear()
            table = {}
            for index, k_id in enumerate(self._k_id):
                table.setdefault(K.rotating_id(k_id, epoch), index)
            self._tables[epoch] = table
        return table

    def _pair_key(self, index: int) -> bytes | None:
        if index not in self._pair:
            try:
                self._pair[index] = K.pair_key(self.me.enc_secret, self.me.enc_public,
                                               self.peers[index].enc_public)
            except PayloadError:
                self._pair[index] = None
        return self._pair[index]

    def recognise(self, ad: bytes | BeaconPayload, *, now: float) -> Recognition:
        payload = ad if isinstance(ad, BeaconPayload) else parse_advertisement(ad)
        current = K.epoch_of(now)
        for delta in self.SKEW_EPOCHS:
            epoch = current + delta
            if not 0 <= epoch <= K.MAX_EPOCH:
                continue
            index = self._table(epoch).get(payload.rid)
            if index is not None:
                return self._verify(payload, index, epoch)
        return Recognition(peer=None, rid=payload.rid)

    def _verify(self, payload: BeaconPayload, index: int, epoch: int) -> Recognition:
        peer, k_id = self.peers[index], self._k_id[index]
        if not crypto.ct_equal(K.payload_mac(k_id, epoch, payload.body), payload.mac):
            raise AuthError(f"beacon naming peer {peer.name!r} fails its check value "
                            "(corrupted or tampered)")
        flags = payload.masked_flags ^ K.flags_mask(k_id, epoch)
        k_pair = self._pair_key(index)
        mine = False
        if k_pair is not None:
            expected = K.data_tag(k_pair, self.me.enc_public, epoch)
            mine = any(crypto.ct_equal(t, expected) for t in payload.tags)
        return Recognition(peer=peer, rid=payload.rid, epoch=epoch, holds_data_for_me=mine,
                           has_data_for_server=bool(flags & FLAG_DATA_FOR_SERVER))


def recognise(ad: bytes | BeaconPayload, me: BeaconIdentity, peers: Sequence[PeerKeys], *,
              now: float) -> Recognition:
    """Who sent ``ad`` (a known peer or None) and what it hints. See :class:`Recogniser`."""
    return Recogniser(me, peers).recognise(ad, now=now)
