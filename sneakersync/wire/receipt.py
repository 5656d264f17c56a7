"""Delivery receipts from the destination server: codec and checks (sans-I/O).

A receipt tells one device which changes the server holds durably.  It is
cumulative (each receipt covers everything the previous one did, and more) and
deterministic (the same stored state gives the same bytes).  The byte layout and
the MUST-reject rules are in ``formats/receipt-v1.md``::

    off  len  field
      0    8  magic "SNKRCT1\\n"
      8    4  body length B (big-endian), 2..MAX_BODY
     12    B  body: canonical JSON (see ReceiptBody)
   12+B   64  Ed25519 signature over "sneakersync receipt v1\\0" || bytes 0..12+B

On a drive or over HTTP the receipt is wrapped in age, encrypted to the device
it concerns; the wrapping randomness is derived from the server's key and the
receipt bytes, so a re-issued receipt is byte-for-byte the same file.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from sneakersync.wire import age
from sneakersync.wire import canonical
from sneakersync.wire import crypto
from sneakersync.wire import merkle
from sneakersync.errors import ReceiptError, UsageError

MAGIC = b"SNKRCT1\n"
SIG_DOMAIN = b"sneakersync receipt v1\x00"
WRAP_INFO = b"sneakersync receipt wrap v1"
RECEIPT_TYPE = "sneakersync/receipt"
MEDIA_TYPE = "application/vnd.sneakersync.receipt"  # HTTP Content-Type of a wrapped receipt
VERSION = 1
MAX_BODY = 1 << 20
MAX_COUNTER = (1 << 53) - 1
BODY_KEYS = frozenset({"covered", "device", "seq", "server", "server_key", "type", "v"})
ORIGIN_KEYS = frozenset({"h", "r"})

Ranges = list[list[int]]


class ReceiptProblem(ReceiptError):
    """A receipt that must be refused; ``reason`` is a short code (see the spec)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, hints=("the receipt was ignored; nothing was deleted",))
        self.reason = reason


@dataclass(frozen=True)
class Covered:
    ranges: Ranges
    root: bytes  # Merkle root over the leaf hashes of the covered counters, ascending

    @property
    def count(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.ranges)


@dataclass(frozen=True)
class ReceiptBody:
    server: str
    server_key: bytes
    device: str
    covered: dict[str, Covered]

    @property
    def seq(self) -> int:
        """Sequence number: how many changes the receipt covers (grows with every new one)."""
        return sum(c.count for c in self.covered.values())

    def as_json(self) -> dict[str, Any]:
        return {"type": RECEIPT_TYPE, "v": VERSION, "server": self.server,
                "server_key": self.server_key.hex(), "device": self.device, "seq": self.seq,
                "covered": {o: {"r": c.ranges, "h": c.root.hex()}
                            for o, c in sorted(self.covered.items())}}


@dataclass(frozen=True)
class Receipt:
    body: ReceiptBody
    raw: bytes  # the exact signed bytes (magic .. signature)
    signature: bytes


# --- encoding ------------------------------------------------------------------------

def root_of(hashes: list[bytes]) -> bytes:
    return merkle.root(hashes)


def encode(body: ReceiptBody, sign_secret: bytes) -> bytes:
    """Canonical receipt bytes, signed with the server's Ed25519 secret (64-byte form)."""
    if not body.covered:
        raise UsageError("a receipt must cover at least one change")
    text = canonical.dumpb(body.as_json())
    if len(text) > MAX_BODY:
        raise UsageError("receipt body is too large")
    signed = MAGIC + struct.pack(">I", len(text)) + text
    return signed + crypto.sign(sign_secret, SIG_DOMAIN + signed)


def _det_rng(seed: bytes) -> Callable[[int], bytes]:
    counter = [0]

    def rng(n: int) -> bytes:
        out = b""
        while len(out) < n:
            counter[0] += 1
            out += crypto.hmac_sha256(seed, counter[0].to_bytes(8, "big"))
        return out[:n]

    return rng


def wrap(receipt: bytes, device_enc_public: bytes, server_secret: bytes) -> bytes:
    """Encrypt a receipt to its device with age, deterministically.

    ``server_secret`` is any secret only the server holds (its X25519 key);
    the age file key and ephemeral share are derived from it and the receipt,
    so they are unpredictable to others and identical on re-issue.
    """
    seed = crypto.hkdf_sha256(server_secret, crypto.sha256(receipt), WRAP_INFO, 32)
    return age.encrypt(receipt, [device_enc_public], rng=_det_rng(seed))


def unwrap(data: bytes, device_enc_secret: bytes) -> bytes:
    """Decrypt a wrapped receipt (NoMatchError: it is for another device)."""
    _, plain = age.decrypt(data, device_enc_secret, max_size=MAX_BODY + 1024)
    return plain


# --- decoding ------------------------------------------------------------------------

def _fail(reason: str, message: str) -> ReceiptProblem:
    return ReceiptProblem(reason, message)


def _ranges(value: Any) -> Ranges:
    if not isinstance(value, list) or not value:
        raise _fail("malformed", "covered ranges must be a non-empty list")
    out: Ranges = []
    prev = 0
    for r in value:
        if (not isinstance(r, list) or len(r) != 2 or not all(type(x) is int for x in r)
                or not prev < r[0] <= r[1] <= MAX_COUNTER):
            raise _fail("malformed", "covered ranges must be ascending, disjoint, non-adjacent "
                                     "[first, last] pairs")
        prev = r[1] + 1  # adjacent ranges must be merged: one canonical form
        out.append([r[0], r[1]])
    return out


def _hex(value: Any, n: int, what: str) -> bytes:
    problem = canonical.hex_problem(value, n)
    if problem:  # upper case is a canonical-form failure; anything else is malformed
        raise _fail("non-canonical" if problem == "is not lower-case hex" else "malformed",
                    f"{what} {problem}")
    return bytes.fromhex(value)


def decode(data: bytes) -> Receipt:
    """Parse a receipt's structure (the signature is checked by :func:`verify`)."""
    if len(data) < 12 + 2 + 64:
        raise _fail("truncated", "receipt is shorter than its fixed fields")
    if data[:8] != MAGIC:
        raise _fail("malformed", "receipt magic is wrong (not a sneakersync receipt v1)")
    (blen,) = struct.unpack(">I", data[8:12])
    if not 2 <= blen <= MAX_BODY:
        raise _fail("malformed", "receipt body length is out of range")
    if len(data) < 12 + blen + 64:
        raise _fail("truncated", "receipt is truncated")
    if len(data) > 12 + blen + 64:
        raise _fail("malformed", "receipt has bytes after its signature")
    text = data[12:12 + blen]
    try:
        obj = canonical.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _fail("malformed", "receipt body is not JSON") from exc
    if not isinstance(obj, dict) or obj.keys() != BODY_KEYS:
        raise _fail("malformed", "receipt body has missing or unknown fields")
    if obj["type"] != RECEIPT_TYPE or obj["v"] != VERSION:
        raise _fail("malformed", "receipt type or version is not supported")
    for key in ("server", "device"):
        if not isinstance(obj[key], str) or len(obj[key]) != 16:
            raise _fail("malformed", f"receipt {key} is not a device id")
    covered_raw = obj["covered"]
    if not isinstance(covered_raw, dict) or not covered_raw:
        raise _fail("malformed", "receipt covers nothing")
    covered: dict[str, Covered] = {}
    for origin, c in covered_raw.items():
        if not isinstance(origin, str) or len(origin) != 16:
            raise _fail("malformed", "receipt names an invalid origin")
        if not isinstance(c, dict) or c.keys() != ORIGIN_KEYS:
            raise _fail("malformed", "a covered entry has missing or unknown fields")
        covered[origin] = Covered(_ranges(c["r"]), _hex(c["h"], 32, "covered root"))
    body = ReceiptBody(obj["server"], _hex(obj["server_key"], 32, "server key"), obj["device"],
                       covered)
    if type(obj["seq"]) is not int or obj["seq"] != body.seq:
        raise _fail("malformed", "receipt seq does not equal the number of covered changes")
    if canonical.dumpb(body.as_json()) != text:
        raise _fail("non-canonical", "receipt body is not in canonical form")
    return Receipt(body, bytes(data), bytes(data[12 + blen:]))


def verify(data: bytes, *, server_key: bytes, server_id: str, device_id: str) -> Receipt:
    """Decode and check signature, issuer and addressee."""
    rc = decode(data)
    if rc.body.server_key != server_key or rc.body.server != server_id:
        raise _fail("foreign-server", f"receipt comes from server {rc.body.server}, which is not "
                                      "this device's destination")
    try:
        crypto.verify(server_key, SIG_DOMAIN + data[:-64], rc.signature)
    except Exception as exc:
        raise _fail("forged", "receipt signature does not verify (forged or damaged)") from exc
    if rc.body.device != device_id:
        raise _fail("wrong-device", f"receipt is for device {rc.body.device}, not this one")
    return rc


def ranges_contain(outer: Ranges, inner: Ranges) -> bool:
    i = 0
    for lo, hi in inner:
        while i < len(outer) and outer[i][1] < lo:
            i += 1
        if i == len(outer) or not outer[i][0] <= lo <= hi <= outer[i][1]:
            return False
    return True


def compare(new: Receipt, last: Receipt | None) -> str:
    """Place a verified receipt against the last one accepted from the same server.

    Returns "accepted" (newer), "duplicate" (same bytes) or "stale" (older);
    raises for two different receipts with the same seq, or a newer one that
    drops something the last one covered (not cumulative).
    """
    if last is None:
        return "accepted"
    if new.body.seq < last.body.seq:
        return "stale"
    if new.body.seq == last.body.seq:
        if new.raw == last.raw:
            return "duplicate"
        raise _fail("equivocation", "server issued two different receipts with the same seq")
    for origin, c in last.body.covered.items():
        got = new.body.covered.get(origin)
        if got is None or not ranges_contain(got.ranges, c.ranges):
            raise _fail("not-cumulative", "receipt drops changes an earlier receipt covered")
    return "accepted"


def check_roots(rc: Receipt, hashes_for: Callable[[str, Ranges], Mapping[int, bytes]]) -> None:
    """Recompute each covered root from the device's own change hashes.

    ``hashes_for(origin, ranges)`` returns the leaf hashes the device holds in
    those ranges.  A receipt may only cover changes the device holds.
    """
    for origin, c in rc.body.covered.items():
        held = hashes_for(origin, c.ranges)
        ordered: list[bytes] = []
        for lo, hi in c.ranges:
            for n in range(lo, hi + 1):
                h = held.get(n)
                if h is None:
                    raise _fail("not-held", f"receipt covers change {origin}:{n}, which this "
                                            "device does not hold")
                ordered.append(h)
        if not crypto.ct_equal(root_of(ordered), c.root):
            raise _fail("root-mismatch", f"receipt root for {origin} does not match this "
                                         "device's changes")
