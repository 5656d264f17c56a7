"""Generate the identity-card, packet and drive test vectors deterministically.

    python formats/vectors/generate.py            # rewrite card/, packet/ and drive/
    python formats/vectors/generate.py --out DIR  # write them under DIR instead
    python formats/vectors/generate.py --check    # fail if any committed file would change

Everything comes from fixed seeds: device keys are SHA-256 of a label, and all
randomness (file keys, ephemeral X25519 keys, payload nonces) is drawn from a
counter-mode SHA-256 generator labelled with the vector's name, passed to the
library as ``rng=``.  Times are fixed.  Two runs give byte-identical files (as
long as the zstd library compresses the same way; see formats/README.md).

File format (formats/README.md section 4): ``key: value`` header lines, one
blank line, then the raw bytes under test.  Before writing a vector the
generator checks that the library gives the declared outcome, so a vector can
never silently disagree with the code it describes.

Honest parties are built with the public API (``packet.seal``, ``body.encode``).
Malicious ones use lower-level pieces: ``envelope`` signing by hand, and a
small STREAM re-encryptor below that keeps an existing age header (anyone who
holds the file key, i.e. any co-recipient, can do that).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

import zstandard  # noqa: E402

from sneakersync.wire import age
from sneakersync.wire import crypto
from sneakersync.wire import envelope
from sneakersync.wire import merkle
from sneakersync.wire import packet  # noqa: E402
from sneakersync.wire import body as B  # noqa: E402
from sneakersync.wire import canonical  # noqa: E402
from sneakersync.errors import AuthError, RevokedError, SneakersyncError, UntrustedError
from sneakersync.wire.identity import CARD_PREFIX, KIND_DEVICE, KIND_SERVER, Card, DeviceKeys, decode_card, derive_device_id

CREATED = 1_750_000_000_000  # 2025-06-15T15:06:40Z in milliseconds, body "created"
T0 = 1_749_990_000_000       # change times "t" are T0 + 1000 * counter
DEFAULT_MAX_BODY = 1 << 31


# --- deterministic randomness and keys -----------------------------------------------------

def det_rng(label: str) -> Callable[[int], bytes]:
    """n -> bytes: SHA-256("sneakersync vectors rng " || label || " " || u64 counter) blocks."""
    state = {"counter": 0, "buf": b""}

    def rng(n: int) -> bytes:
        while len(state["buf"]) < n:  # type: ignore[arg-type]
            block = hashlib.sha256(f"sneakersync vectors rng {label} ".encode()
                                   + state["counter"].to_bytes(8, "big")).digest()  # type: ignore[union-attr]
            state["buf"] += block  # type: ignore[operator]
            state["counter"] += 1  # type: ignore[operator]
        out, state["buf"] = state["buf"][:n], state["buf"][n:]  # type: ignore[index]
        return out  # type: ignore[return-value]

    return rng


def device(name: str) -> DeviceKeys:
    return DeviceKeys(sign_seed=crypto.sha256(b"sneakersync vector sign " + name.encode()),
                      enc_secret=crypto.sha256(b"sneakersync vector enc " + name.encode()))


ALICE, BOB, CAROL, DAN, ERIN, MALLORY, RITA = (device(n) for n in (
    "alice", "bob", "carol", "dan", "erin", "mallory", "rita"))
NAMES = {"alice": "Alice field laptop", "bob": "Bob office", "carol": "Carol phone",
         "dan": "Dan tablet", "erin": "Erin clinic", "mallory": "Mallory", "rita": "Rita (lost)"}
KEYS = {"alice": ALICE, "bob": BOB, "carol": CAROL, "dan": DAN, "erin": ERIN,
        "mallory": MALLORY, "rita": RITA}


def card(name: str) -> str:
    return KEYS[name].card(NAMES[name]).encode()


def did(name: str) -> str:
    return KEYS[name].device_id


# --- vector files ---------------------------------------------------------------------------

@dataclass
class Vector:
    name: str
    headers: list[tuple[str, str]]
    data: bytes

    def render(self) -> bytes:
        head = "".join(f"{k}: {v}\n" for k, v in self.headers)
        assert "\n\n" not in head
        return head.encode("utf-8") + b"\n" + self.data


def parse_vector(raw: bytes) -> tuple[dict[str, list[str]], bytes]:
    """Split a vector file into its headers (key -> values, in order) and its bytes."""
    head, _, data = raw.partition(b"\n\n")
    headers: dict[str, list[str]] = {}
    for line in head.decode("utf-8").split("\n"):
        key, _, value = line.partition(": ")
        headers.setdefault(key, []).append(value)
    return headers, data


# --- STREAM by hand (for tampering under an existing header) --------------------------------

CHUNK = age.CHUNK_SIZE


def stream_seal(file_key: bytes, nonce: bytes, plaintext: bytes,
                flags: list[bool] | None = None) -> bytes:
    """age STREAM payload (nonce + chunks); ``flags`` overrides each chunk's last flag."""
    key = crypto.hkdf_sha256(file_key, nonce, b"payload", 32)
    pieces = [plaintext[i:i + CHUNK] for i in range(0, len(plaintext), CHUNK)] or [b""]
    flags = flags or [i == len(pieces) - 1 for i in range(len(pieces))]
    out = [nonce]
    for i, (piece, last) in enumerate(zip(pieces, flags)):
        out.append(crypto.aead_encrypt(key, i.to_bytes(11, "big") + bytes([last]), piece))
    return b"".join(out)


def reopen(pkt: bytes, reader: DeviceKeys = BOB) -> tuple[age.Header, bytes, bytes, bytes]:
    """(header, file key, payload nonce, plaintext) of a packet, as a recipient sees it."""
    header, off = age.parse_header(pkt)
    file_key = age.unwrap_file_key(header, reader.enc_secret)
    _, plaintext = age.decrypt(pkt, reader.enc_secret)
    return header, file_key, pkt[off:off + 16], plaintext


def same_header(pkt: bytes, edit: Callable[[bytes], bytes], **kw: Any) -> bytes:
    """Re-encrypt an edited plaintext under the packet's own header (a co-recipient can)."""
    header, file_key, nonce, plaintext = reopen(pkt)
    return header.raw + stream_seal(file_key, nonce, edit(plaintext), **kw)


def encrypt_to(recipients: list[DeviceKeys], label: str,
               make_plaintext: Callable[[bytes], bytes]) -> bytes:
    """Encrypt to ``recipients``; the plaintext may depend on the new header's hash."""
    enc = age.StreamEncryptor([r.enc_public for r in recipients], rng=det_rng(label))
    pt = make_plaintext(crypto.sha256(enc.header.raw))
    return enc.update(pt) + enc.finish()


# --- envelopes by hand ----------------------------------------------------------------------

def compress(body: bytes, level: int = 3) -> bytes:
    return zstandard.ZstdCompressor(level=level, write_content_size=True).compress(body)


def signed_envelope(signer: DeviceKeys, header_hash: bytes, compressed: bytes, *,
                    body_len: int, flags: int = 0, magic: bytes = envelope.MAGIC,
                    sign_public: bytes | None = None, padding: bytes = b"") -> bytes:
    fixed = struct.pack(">8s32s32sQQ32sB", magic, sign_public or signer.sign_public,
                        header_hash, len(compressed), body_len, crypto.sha256(compressed),
                        flags)
    sig = crypto.sign(signer.sign_secret, envelope.SIG_DOMAIN + fixed)
    return fixed + sig + compressed + padding


def raw_packet(signer: DeviceKeys, recipients: list[DeviceKeys], label: str, compressed: bytes,
               **kw: Any) -> bytes:
    """A packet whose envelope is built by hand (lengths, flags, magic as given)."""
    return encrypt_to(recipients, label,
                      lambda hh: signed_envelope(signer, hh, compressed, **kw))


def seal(sender: DeviceKeys, recipients: list[DeviceKeys], body: bytes, label: str,
         **kw: Any) -> bytes:
    return packet.seal(sender, [r.enc_public for r in recipients], body, rng=det_rng(label),
                       **kw)


# --- bodies -------------------------------------------------------------------------------

def change(origin: str, c: int, coll: str = "sites", rid: str = "site-1", op: str = "put",
           data: dict[str, Any] | None = None, vv: dict[str, int] | None = None,
           t: int | None = None) -> bytes:
    if op == "put" and data is None:
        data = {"name": f"well {c}", "status": "ok"}
    return canonical.dumpb({"c": c, "d": data, "i": rid, "k": coll, "o": did(origin),
                            "op": op, "t": T0 + 1000 * c if t is None else t,
                            "v": vv or {}})


def _nested(depth: int) -> Any:
    out: Any = []
    for _ in range(depth - 1):
        out = [out]
    return out


def segment(origin: str, lines: dict[int, bytes], include: list[int] | None = None,
            signer: DeviceKeys | None = None) -> B.Segment:
    """Segment over counters min..max of ``lines``, carrying ``include`` (default: all)."""
    first, last = min(lines), max(lines)
    assert sorted(lines) == list(range(first, last + 1))
    leaves = [merkle.leaf_hash(lines[c]) for c in range(first, last + 1)]
    root = merkle.root(leaves)
    inc = sorted(lines) if include is None else sorted(include)
    proof = [] if len(inc) == len(lines) else merkle.prove(
        lambda lo, hi: merkle.root(leaves[lo - first:hi - first]), first, last, inc)
    sig = B.sign_segment((signer or KEYS[origin]).sign_secret, did(origin), first, last, root)
    return B.Segment(did(origin), first, last, root, sig, proof, [lines[c] for c in inc])


def alice_lines(n: int = 3) -> dict[int, bytes]:
    return {c: change("alice", c, rid=f"site-{c}") for c in range(1, n + 1)}


def make_body(segments: list[B.Segment], *, sender: str = "alice", to: list[str] | None = None,
              origins: list[str] | None = None, manifest: dict[str, list[list[int]]] | None = None,
              extra: dict[str, Any] | None = None) -> bytes:
    names = origins if origins is not None else sorted(
        {sender} | {n for n in KEYS for s in segments if did(n) == s.origin})
    return B.encode(B.Body(
        sender=did(sender), created=CREATED, to=[did(t) for t in (to or ["bob"])],
        manifest=manifest if manifest is not None else {did(sender): [[1, 3]]},
        origins={did(n): card(n) for n in names}, segments=segments, extra=extra or {}))


def body_bytes(meta: dict[str, Any], lines: list[bytes]) -> bytes:
    """A body from a meta object and change lines, for bodies ``B.encode`` will not make."""
    return b"\n".join([canonical.dumpb(meta)] + lines) + b"\n"


def meta_of(body: bytes) -> dict[str, Any]:
    return json.loads(body.split(b"\n", 1)[0])


def with_meta(body: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    meta = meta_of(body)
    edit(meta)
    return body_bytes(meta, body[:-1].split(b"\n")[1:])


# --- the reference reader (same decisions as tests/test_vectors.py and sync._apply) --------

def read_packet(headers: dict[str, list[str]], data: bytes) -> tuple[bytes, int]:
    identity = age.decode_identity(headers["identity"][0])
    me = decode_card(headers["reader"][0])
    peers = [decode_card(c) for c in headers.get("peer", [])]
    revoked = {decode_card(c).sign_public for c in headers.get("revoked", [])}
    by_key = {p.sign_public: p for p in peers}

    def accept(sign_public: bytes) -> None:
        if sign_public in revoked:
            raise RevokedError("sender is revoked")
        if sign_public not in by_key:
            raise UntrustedError("sender is not an accepted peer")

    max_body = int(headers.get("max-body", [DEFAULT_MAX_BODY])[0])
    opened = packet.open_packet(data, identity, accept_sender=accept, max_body=max_body)
    b = B.decode(opened.body)
    B.card_for(b, b.sender)
    if by_key[opened.envelope.sender_sign_public].device_id != b.sender:
        raise AuthError("body names a different sender than the signer")
    if me.device_id not in b.to:
        raise AuthError("body does not list the reader as a recipient")
    keys = {p.device_id: p.sign_public for p in peers}
    keys[me.device_id] = me.sign_public
    verified = B.verify_segments(b, keys.get)
    return opened.body, sum(len(v.versions) for v in verified)


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "success", fn()
    except SneakersyncError as exc:
        return exc.layer, exc


# --- packet vectors -------------------------------------------------------------------------

@dataclass
class PacketSet:
    vectors: list[Vector] = field(default_factory=list)

    def add(self, name: str, expect: str, comment: str, data: bytes, *,
            peers: tuple[str, ...] = ("alice", "carol"), revoked: tuple[str, ...] = ("rita",),
            max_body: int | None = None) -> None:
        headers = [("expect", expect), ("comment", comment),
                   ("identity", age.encode_identity(BOB.enc_secret)), ("reader", card("bob"))]
        headers += [("peer", card(p)) for p in peers]
        headers += [("revoked", card(r)) for r in revoked]
        if max_body is not None:
            headers.append(("max-body", str(max_body)))
        parsed: dict[str, list[str]] = {}
        for k, v in headers:
            parsed.setdefault(k, []).append(v)
        got, result = outcome(lambda: read_packet(parsed, data))
        if got != expect:
            raise AssertionError(f"packet vector {name}: expected {expect}, library gives {got}"
                                 f" ({result})")
        if expect == "success":
            body, n = result
            headers += [("packet-id", packet.packet_id(data)),
                        ("payload-sha256", crypto.sha256(body).hex()), ("changes", str(n))]
        assert all(v.name != name for v in self.vectors), name
        self.vectors.append(Vector(name, headers, data))


def flip(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    out = bytearray(data)
    out[offset] ^= mask
    return bytes(out)


def b64char_swap(data: bytes, offset: int) -> bytes:
    """Replace one base64 character by another valid one ('A' <-> 'B')."""
    out = bytearray(data)
    out[offset] = ord("B") if out[offset] != ord("B") else ord("A")
    return bytes(out)


def header_end(pkt: bytes) -> int:
    return age.parse_header(pkt)[1]


def build_packets() -> list[Vector]:  # noqa: C901 (a flat list of cases reads best)
    V = PacketSet()
    lines3 = alice_lines(3)
    body3 = make_body([segment("alice", lines3)])
    p1 = seal(ALICE, [BOB], body3, "p1")
    he = header_end(p1)

    # --- success ----------------------------------------------------------------------
    V.add("ok-one-recipient", "success", "alice sends three of her own changes to bob", p1)
    V.add("ok-three-recipients", "success", "recipients carol, bob, dan: bob's stanza is second",
          seal(ALICE, [CAROL, BOB, DAN], make_body([segment("alice", lines3)],
                                                   to=["carol", "bob", "dan"]), "p3"))
    five = [CAROL, DAN, ERIN, MALLORY, BOB]
    V.add("ok-five-recipients-last", "success", "five recipients, bob's stanza is the last",
          seal(ALICE, five, make_body([segment("alice", lines3)],
                                      to=["carol", "dan", "erin", "mallory", "bob"]), "p5"))
    V.add("ok-single-change", "success", "one change, a one-leaf tree (root = leaf hash)",
          seal(ALICE, [BOB], make_body([segment("alice", {1: change("alice", 1)})],
                                       manifest={did("alice"): [[1, 1]]}), "single"))
    dl = {1: change("alice", 1), 2: change("alice", 2, op="del", data=None)}
    V.add("ok-put-then-delete", "success", "a put and a delete (d is null) of the same record",
          seal(ALICE, [BOB], make_body([segment("alice", dl)]), "delete"))
    V.add("ok-manifest-only", "success", "no segments at all: only the manifest (an ack); "
          "zero changes", seal(ALICE, [BOB], make_body([], manifest={did("alice"): [[1, 9]],
                                                                    did("erin"): [[1, 2], [5, 8]]}),
                              "manifest"))
    erin8 = {c: change("erin", c, coll="people", rid=f"p-{c}") for c in range(1, 9)}
    relayed = [segment("alice", lines3), segment("erin", erin8, include=[2, 5])]
    V.add("ok-relayed-segment-with-proof", "success",
          "alice relays changes 2 and 5 of erin's signed segment 1..8 with a multi-proof; erin is "
          "not a peer of bob, so erin's key comes from the card in 'origins'",
          seal(ALICE, [BOB], make_body(relayed), "relay"))
    V.add("ok-relayed-known-origin", "success", "as ok-relayed-segment-with-proof, but erin is a "
          "peer of bob and erin's card is not carried",
          seal(ALICE, [BOB], make_body(relayed, origins=["alice"]), "relay-known"),
          peers=("alice", "carol", "erin"))
    two = [segment("erin", erin8, include=[1]), segment("erin", {c: erin8[c] for c in range(1, 5)},
                                                        include=[3, 4])]
    V.add("ok-two-segments-same-origin", "success", "two segments of the same origin with "
          "different signed ranges (1..8 carrying 1, and 1..4 carrying 3 and 4)",
          seal(ALICE, [BOB], make_body(two), "two-seg"))
    own = {c: change("bob", c, coll="notes", rid=f"n-{c}") for c in range(1, 4)}
    V.add("ok-reader-own-changes-relayed", "success", "alice relays bob's own changes back to "
          "him; the key for origin bob is the reader's own",
          seal(ALICE, [BOB], make_body([segment("bob", own, include=[2])], origins=["alice"]),
               "own"))
    conc = {1: change("alice", 1, rid="shared", data={"level": 3}, vv={did("carol"): 4}),
            2: change("alice", 2, rid="shared", data={"level": 5},
                      vv={did("carol"): 4, did("erin"): 2})}
    V.add("ok-version-vectors", "success", "changes whose version vectors name other devices",
          seal(ALICE, [BOB], make_body([segment("alice", conc)]), "vv"))
    uni = {1: change("alice", 1, rid="Ünïcode-ид-名前", data={"note": "Œuvre — 水 🚰",
                                                              "n": -1.5, "ok": True, "z": None}),
           2: change("alice", 2, rid="tab\\quote\"", data={"nested": {"b": [1, 2], "a": {}}})}
    V.add("ok-unicode-and-escapes", "success", "non-ASCII written as itself; backslash and quote "
          "escaped; nested objects with sorted keys",
          seal(ALICE, [BOB], make_body([segment("alice", uni)]), "unicode"))
    V.add("ok-unknown-meta-key", "success", "the meta object carries an extra key a v1 reader "
          "ignores, and a non-empty 'extra'",
          seal(ALICE, [BOB], with_meta(body3, lambda m: m.update(future=[1], extra={"k": "v"})),
               "meta-extra"))
    V.add("ok-padded-4096", "success", "envelope padded with zero bytes to a multiple of 4096",
          seal(ALICE, [BOB], body3, "pad4096", pad_to=4096))
    p64 = seal(ALICE, [BOB], body3, "pad65536", pad_to=65536)
    V.add("ok-padded-one-full-chunk", "success", "envelope padded to exactly 65536 bytes: one "
          "full STREAM chunk, flagged last", p64)
    V.add("ok-level-19", "success", "body compressed at zstd level 19",
          seal(ALICE, [BOB], body3, "level19", level=19))
    V.add("ok-padding-changed-by-co-recipient", "success", "padding is not signed: anyone with "
          "the file key can add zero bytes under the same header; still valid (see packet-v1 "
          "section 12)", same_header(p1, lambda pt: pt + bytes(100)))
    rng = det_rng("multi-chunk blobs")
    big = {c: change("alice", c, rid=f"photo-{c}",
                     data={"photo": base64.b64encode(rng(22_500)).decode()})
           for c in range(1, 7)}
    pm = seal(ALICE, [BOB], make_body([segment("alice", big)],
                                      manifest={did("alice"): [[1, 6]]}), "multi", level=1)
    hm = header_end(pm)
    assert len(pm) - hm - 16 > 2 * age.ENC_CHUNK_SIZE, "multi-chunk packet must have 3 chunks"
    V.add("ok-multi-chunk", "success", "a packet of three STREAM chunks (poorly compressible "
          "photos)", pm)

    def with_grease(label: str, extra_first: bool) -> bytes:
        r = det_rng(label)
        file_key = r(16)
        ours = age._x25519_stanza(file_key, BOB.enc_public, r)
        grease = age.Stanza("example.org/grease", ("x", "y"), r(20))
        header = age._build_header(file_key, [grease, ours] if extra_first else [ours, grease])
        env = envelope.seal(sign_secret=ALICE.sign_secret, sign_public=ALICE.sign_public,
                            header_hash=crypto.sha256(header.raw), body=body3)
        return header.raw + stream_seal(file_key, r(16), env)

    V.add("ok-unknown-stanza-type", "success", "an extra stanza of an unknown type precedes bob's"
          " X25519 stanza; it is ignored but covered by the MAC and the header hash",
          with_grease("grease", True))

    # --- age layer: header ------------------------------------------------------------
    mac_at = p1.index(b"\n--- ") + 5  # first base64 character of the MAC
    share_at = p1.index(b"-> X25519 ") + 10
    body_line_at = p1.index(b"\n", share_at) + 1
    for name, cut, why in [
            ("truncated-empty", 0, "an empty file"),
            ("truncated-in-intro", 10, "ends inside the version line"),
            ("truncated-in-stanza", share_at + 5, "ends inside the stanza's argument line"),
            ("truncated-in-stanza-body", body_line_at + 10, "ends inside the stanza body line"),
            ("truncated-before-mac", mac_at - 4, "ends before the MAC line"),
            ("truncated-in-mac", mac_at + 20, "ends inside the MAC line"),
            ("truncated-mac-no-newline", he - 1, "the MAC line lacks its final LF"),
            ("truncated-after-header", he, "ends right after the header: no payload nonce"),
            ("truncated-in-nonce", he + 8, "ends inside the payload nonce")]:
        V.add(name, "header", f"truncated: {why}", p1[:cut])
    V.add("header-flip-intro", "header", "one bit flipped in the version line", flip(p1, 3))
    V.add("header-version-2", "header", "version line says v2",
          p1.replace(b"age-encryption.org/v1\n", b"age-encryption.org/v2\n", 1))
    V.add("header-crlf-intro", "header", "version line ends with CR LF",
          p1.replace(b"age-encryption.org/v1\n", b"age-encryption.org/v1\r\n", 1))
    V.add("header-double-space", "header", "two spaces between stanza arguments",
          p1.replace(b"-> X25519 ", b"-> X25519  ", 1))
    V.add("header-mac-noncanonical", "header", "last MAC base64 character has non-zero unused "
          "bits", flip(p1, he - 2, 0x01) if chr(p1[he - 2]) not in "AQgw"
          else p1[:he - 2] + bytes([p1[he - 2] + 1]) + p1[he - 1:])
    V.add("header-mac-missing-space", "header", "MAC line '---' not followed by a space",
          p1[:mac_at - 1] + p1[mac_at:])
    V.add("header-no-stanza", "header", "a header with no recipient stanza at all",
          b"age-encryption.org/v1\n" + p1[mac_at - 4:])
    V.add("header-armored", "header", "ASCII armor is not part of the profile",
          b"-----BEGIN AGE ENCRYPTED FILE-----\n" + base64.b64encode(p1[:48]) +
          b"\n-----END AGE ENCRYPTED FILE-----\n")
    V.add("header-share-padding", "header", "the X25519 share written with '=' padding",
          p1[:body_line_at - 1] + b"=" + p1[body_line_at - 1:])
    V.add("header-not-age", "header", "a zstd frame, not an age file", compress(body3))

    # --- age layer: stanza and MAC ----------------------------------------------------
    V.add("no-match-share-changed", "no-match", "one character of bob's ephemeral share "
          "changed: the stanza no longer opens", b64char_swap(p1, share_at))
    V.add("no-match-stanza-body", "no-match", "one character of the wrapped file key changed",
          b64char_swap(p1, body_line_at))
    V.add("no-match-wrong-recipient", "no-match", "alice's packet for carol only",
          seal(ALICE, [CAROL], make_body([segment("alice", lines3)], to=["carol"]), "to-carol"))
    V.add("no-match-two-others", "no-match", "alice's packet for carol and dan",
          seal(ALICE, [CAROL, DAN], make_body([segment("alice", lines3)], to=["carol", "dan"]),
               "to-carol-dan"))
    V.add("hmac-flip-mac", "hmac", "first character of the MAC changed",
          b64char_swap(p1, mac_at))
    p3 = seal(ALICE, [CAROL, BOB], make_body([segment("alice", lines3)], to=["carol", "bob"]),
              "p-carol-bob")
    carol_body = p3.index(b"\n", p3.index(b"-> X25519 ")) + 1
    V.add("hmac-co-recipient-stanza-changed", "hmac", "carol's stanza (not bob's) was changed: "
          "bob's stanza opens, then the MAC fails", b64char_swap(p3, carol_body))
    h3, off3 = age.parse_header(p3)
    V.add("hmac-stanza-removed", "hmac", "carol's stanza was removed from the header",
          b"age-encryption.org/v1\n" + age._encode_stanza(h3.stanzas[1])
          + p3[p3.index(b"--- "):])
    V.add("hmac-stanzas-swapped", "hmac", "the two stanzas were swapped",
          b"age-encryption.org/v1\n" + age._encode_stanza(h3.stanzas[1])
          + age._encode_stanza(h3.stanzas[0]) + p3[p3.index(b"--- "):])
    V.add("hmac-stanza-added", "hmac", "an unknown stanza was inserted after the MAC was made",
          p3.replace(b"--- ", b"-> example.org/grease\n\n--- ", 1))

    # --- age layer: payload -------------------------------------------------------------
    for name, cut, why in [
            ("truncated-after-nonce", he + 16, "no chunk after the payload nonce"),
            ("truncated-in-tag", he + 16 + 10, "ends with fewer bytes than one tag"),
            ("truncated-in-chunk", he + 16 + 100, "ends inside the only chunk"),
            ("truncated-last-byte", len(p1) - 1, "the last byte is missing")]:
        V.add(name, "payload", f"truncated: {why}", p1[:cut])
    V.add("payload-appended-byte", "payload", "one byte appended", p1 + b"\x00")
    V.add("payload-appended-tag", "payload", "16 bytes appended", p1 + bytes(16))
    V.add("payload-appended-after-full-chunk", "payload", "a byte after a full final chunk",
          p64 + b"\x00")
    V.add("payload-flip-nonce", "payload", "bit flipped in the payload nonce", flip(p1, he + 3))
    V.add("payload-flip-ciphertext", "payload", "bit flipped in the first ciphertext byte",
          flip(p1, he + 16))
    V.add("payload-flip-middle", "payload", "bit flipped in the middle of the ciphertext",
          flip(p1, (he + 16 + len(p1)) // 2, 0x80))
    V.add("payload-flip-tag", "payload", "bit flipped in the last tag byte",
          flip(p1, len(p1) - 1))
    c0 = hm + 16
    c1, c2 = c0 + age.ENC_CHUNK_SIZE, c0 + 2 * age.ENC_CHUNK_SIZE
    chunks = [pm[c0:c1], pm[c1:c2], pm[c2:]]
    V.add("payload-chunks-swapped", "payload", "chunks 0 and 1 of three swapped",
          pm[:c0] + chunks[1] + chunks[0] + chunks[2])
    V.add("payload-chunk-duplicated", "payload", "chunk 0 repeated before chunk 1",
          pm[:c0] + chunks[0] + chunks[0] + chunks[1] + chunks[2])
    V.add("payload-chunk-dropped", "payload", "the middle chunk removed",
          pm[:c0] + chunks[0] + chunks[2])
    V.add("payload-last-chunk-dropped", "payload", "ends after two full non-final chunks",
          pm[:c2])
    V.add("payload-truncated-one-chunk", "payload", "ends after the first full chunk", pm[:c1])
    V.add("payload-flip-last-chunk", "payload", "bit flipped in the final chunk",
          flip(pm, c2 + 7))
    V.add("payload-flip-first-chunk-tag", "payload", "bit flipped in chunk 0's tag",
          flip(pm, c1 - 1))
    _, mfk, mnonce, mpt = reopen(pm)
    V.add("payload-no-final-flag", "payload", "every chunk sealed as non-final",
          pm[:hm] + stream_seal(mfk, mnonce, mpt, flags=[False, False, False]))
    V.add("payload-early-final-flag", "payload", "chunk 0 sealed as final, then more chunks",
          pm[:hm] + stream_seal(mfk, mnonce, mpt, flags=[True, False, True]))
    _, fk64, n64, pt64 = reopen(p64)
    key64 = crypto.hkdf_sha256(fk64, n64, b"payload", 32)
    V.add("payload-empty-final-chunk", "payload", "a full chunk, then an empty final chunk",
          p64[:header_end(p64)] + n64 + crypto.aead_encrypt(key64, bytes(12), pt64)
          + crypto.aead_encrypt(key64, (1).to_bytes(11, "big") + b"\x01", b""))
    V.add("body-over-reader-limit-padded", "body", "the signed body length exceeds the reader's "
          "limit (max-body 100): refused before decompression",
          seal(ALICE, [BOB], body3, "over-limit", pad_to=8192), max_body=100)

    # --- envelope -------------------------------------------------------------------------
    env1 = reopen(p1)[3]
    clen = struct.unpack(">Q", env1[72:80])[0]
    V.add("envelope-empty", "envelope", "the age payload is empty", same_header(p1, lambda pt: b""))
    V.add("envelope-short", "envelope", "the plaintext is shorter than the 185-byte fixed part",
          same_header(p1, lambda pt: pt[:184]))
    V.add("envelope-fixed-part-only", "envelope", "only the fixed part: the body is missing",
          same_header(p1, lambda pt: pt[:185]))
    V.add("envelope-body-truncated", "envelope", "the last byte of the compressed body is "
          "missing", same_header(p1, lambda pt: pt[:185 + clen - 1]))
    V.add("envelope-flip-magic", "envelope", "bit flipped in the magic",
          same_header(p1, lambda pt: flip(pt, 0)))
    V.add("envelope-magic-v2", "envelope", "magic SNKENV2, correctly signed",
          raw_packet(ALICE, [BOB], "magic2", compress(body3), body_len=len(body3),
                     magic=b"SNKENV2\n"))
    V.add("envelope-flags-signed", "envelope", "flags = 2 (an unknown bit), correctly signed",
          raw_packet(ALICE, [BOB], "flags2", compress(body3), body_len=len(body3), flags=2))
    records_dict = (HERE.parent / "dicts" / "records-v1.zdict").read_bytes()
    with_dict = zstandard.ZstdCompressor(
        level=19, dict_data=zstandard.ZstdCompressionDict(records_dict)).compress(body3)
    V.add("success-records-dictionary", "success", "flags = 1: the body is compressed with the "
          "built-in dictionary records-v1 (formats/dicts/)",
          raw_packet(ALICE, [BOB], "dict", with_dict, body_len=len(body3), flags=1))
    foreign = bytearray(records_dict)
    foreign[4:8] = (77).to_bytes(4, "little")  # the same dictionary under an unknown id
    V.add("body-unknown-dictionary", "body", "flags = 1 and the zstd frame names dictionary "
          "id 77, which readers do not have",
          raw_packet(ALICE, [BOB], "unknown-dict", zstandard.ZstdCompressor(
              level=19, dict_data=zstandard.ZstdCompressionDict(bytes(foreign))).compress(body3),
              body_len=len(body3), flags=1))
    V.add("envelope-flags-unsigned", "envelope", "flags byte changed to 0x80 after signing "
          "(flags are checked before the signature)",
          same_header(p1, lambda pt: flip(pt, 120, 0x80)))
    V.add("envelope-oversized-declared", "envelope", "declared body length 2^31 + 1, correctly "
          "signed: above the format's hard ceiling",
          raw_packet(ALICE, [BOB], "oversized", compress(body3), body_len=(1 << 31) + 1))
    V.add("envelope-declared-length-huge", "envelope", "declared compressed length 2^64 - 1 "
          "(beyond the data)", same_header(p1, lambda pt: pt[:72] + b"\xff" * 8 + pt[80:]))
    pp = seal(ALICE, [BOB], body3, "pad-bad", pad_to=1024)
    V.add("envelope-nonzero-padding", "envelope", "one padding byte is 0x01 (padding must be "
          "zero)", same_header(pp, lambda pt: flip(pt, len(pt) - 1)))
    V.add("auth-flip-signature", "auth", "bit flipped in the envelope signature",
          same_header(p1, lambda pt: flip(pt, 121 + 10)))
    V.add("auth-flip-sender-key", "auth", "bit flipped in the sender key: the signature no "
          "longer verifies (the changed key is also no peer)",
          same_header(p1, lambda pt: flip(pt, 8 + 5)))
    V.add("auth-flip-header-hash", "auth", "bit flipped in the signed header hash",
          same_header(p1, lambda pt: flip(pt, 40)))
    V.add("auth-flip-body-length", "auth", "declared uncompressed length changed after signing",
          same_header(p1, lambda pt: flip(pt, 87)))
    V.add("auth-flip-compressed-length", "auth", "declared compressed length lowered by one "
          "after signing",
          same_header(p1, lambda pt: pt[:72] + struct.pack(">Q", clen - 1) + pt[80:]))
    V.add("auth-flip-body-hash", "auth", "bit flipped in the signed body hash",
          same_header(p1, lambda pt: flip(pt, 88)))
    V.add("auth-flip-compressed-body", "auth", "bit flipped inside the compressed body: its hash "
          "no longer matches the signed one", same_header(p1, lambda pt: flip(pt, 185 + 20)))
    V.add("auth-forwarded-by-co-recipient", "auth", "carol decrypts alice's packet to carol and "
          "bob and re-encrypts the same envelope to bob alone (surreptitious forwarding): the "
          "header hash no longer matches", encrypt_to([BOB], "forward", lambda hh: reopen(p3)[3]))
    V.add("auth-forwarded-to-more", "auth", "as auth-forwarded-by-co-recipient, re-encrypted to "
          "bob and dan", encrypt_to([BOB, DAN], "forward2", lambda hh: reopen(p3)[3]))
    V.add("auth-bad-signature-unknown-signer", "auth", "mallory's envelope with a broken "
          "signature: the signature is checked before the sender is looked up",
          same_header(seal(MALLORY, [BOB], make_body([segment("mallory", {
              1: change("mallory", 1)})], sender="mallory", manifest={}), "mallory-bad"),
              lambda pt: flip(pt, 130)))

    # --- sender acceptance ----------------------------------------------------------------
    mbody = make_body([segment("mallory", {1: change("mallory", 1)})], sender="mallory",
                      manifest={})
    V.add("untrusted-unknown-signer", "untrusted", "a well-formed packet from mallory, who is not "
          "a peer of bob", seal(MALLORY, [BOB], mbody, "mallory"))
    V.add("untrusted-before-decompress", "untrusted", "mallory's packet is also a decompression "
          "bomb: the sender check comes first",
          raw_packet(MALLORY, [BOB], "mallory-bomb", compress(b"x" * 100_000), body_len=10))
    V.add("untrusted-unknown-co-recipient", "untrusted", "dan (not a peer of bob) sends to "
          "bob and carol", seal(DAN, [BOB, CAROL], make_body(
              [segment("dan", {1: change("dan", 1)})], sender="dan", to=["bob", "carol"],
              manifest={}), "dan"))
    rbody = make_body([segment("rita", {1: change("rita", 1)})], sender="rita", manifest={})
    V.add("revoked-signer", "revoked", "a well-formed packet from rita, whom bob revoked",
          seal(RITA, [BOB], rbody, "rita"))
    V.add("revoked-before-padding", "revoked", "rita's packet with non-zero padding: the "
          "sender check comes before the padding check",
          same_header(seal(RITA, [BOB], rbody, "rita-pad", pad_to=512),
                      lambda pt: flip(pt, len(pt) - 1)))

    # --- body: length and decompression ---------------------------------------------------
    bomb = b"\n" * 1_000_000
    V.add("body-decompression-bomb", "body", "declared length 1000 but the frame expands to "
          "1,000,000 bytes (signed by alice)",
          raw_packet(ALICE, [BOB], "bomb", compress(bomb), body_len=1000))
    V.add("body-declared-longer", "body", "declared length one more than the real body",
          raw_packet(ALICE, [BOB], "longer", compress(body3), body_len=len(body3) + 1))
    V.add("body-declared-zero", "body", "declared length 0 for a non-empty body",
          raw_packet(ALICE, [BOB], "zero", compress(body3), body_len=0))
    V.add("body-not-zstd", "body", "the signed body is not a zstd frame",
          raw_packet(ALICE, [BOB], "not-zstd", b"not a zstd frame at all", body_len=10))
    V.add("body-zstd-truncated-frame", "body", "the signed body is a zstd frame cut short",
          raw_packet(ALICE, [BOB], "cut-frame", compress(body3)[:-5], body_len=len(body3)))
    V.add("body-zstd-trailing-frame", "body", "a second zstd frame follows the signed body",
          raw_packet(ALICE, [BOB], "two-frames", compress(body3) + compress(b"extra"),
                     body_len=len(body3)))
    V.add("body-zstd-trailing-garbage", "body", "three stray bytes follow the zstd frame",
          raw_packet(ALICE, [BOB], "trailing", compress(body3) + b"\x28\xb5\x2f",
                     body_len=len(body3)))
    small = compress(body3)
    V.add("envelope-body-ratio-dishonest", "envelope", "the signed body length is one more "
          "than 65536 + 1024 * C: more than C compressed bytes can honestly hold (refused "
          "before the signature is even checked)",
          raw_packet(ALICE, [BOB], "ratio", small, body_len=65536 + 1024 * len(small) + 1))
    V.add("body-over-reader-limit", "body", "the reader's limit (max-body 500) is below the "
          "signed body length", seal(ALICE, [BOB], body3, "limit"), max_body=500)

    # --- body: meta line ------------------------------------------------------------------
    def bad_body(name: str, comment: str, data: bytes, expect: str = "body") -> None:
        V.add(name, expect, comment, seal(ALICE, [BOB], data, name))

    bad_body("body-empty", "the decompressed body is empty", b"")
    bad_body("body-no-final-newline", "the body does not end with LF", body3[:-1])
    bad_body("body-meta-not-json", "the first line is not JSON", b"meta?\n")
    bad_body("body-meta-not-object", "the meta line is a JSON array", b"[1,2]\n")
    bad_body("body-meta-nan", "the meta line contains NaN",
             body3.replace(b'"created":', b'"x":NaN,"created":', 1))
    bad_body("body-wrong-type", "meta 'type' is not sneakersync/body",
             with_meta(body3, lambda m: m.update(type="other/body")))
    bad_body("body-version-2", "meta 'v' is 2", with_meta(body3, lambda m: m.update(v=2)))
    bad_body("body-sender-not-id", "meta 'sender' is not a 16-character device id",
             with_meta(body3, lambda m: m.update(sender="alice")))
    bad_body("body-sender-uppercase", "meta 'sender' in upper case (ids are lower case)",
             with_meta(body3, lambda m: m.update(sender=m["sender"].upper())))
    bad_body("body-created-string", "meta 'created' is a string",
             with_meta(body3, lambda m: m.update(created=str(CREATED))))
    bad_body("body-created-bool", "meta 'created' is true (a boolean is not an integer)",
             with_meta(body3, lambda m: m.update(created=True)))
    bad_body("body-missing-manifest", "meta has no 'manifest'",
             with_meta(body3, lambda m: m.pop("manifest")))
    bad_body("body-manifest-overlap", "manifest ranges overlap",
             with_meta(body3, lambda m: m.update(manifest={did("alice"): [[1, 5], [4, 9]]})))
    bad_body("body-manifest-zero", "manifest range starts at counter 0",
             with_meta(body3, lambda m: m.update(manifest={did("alice"): [[0, 3]]})))
    bad_body("body-to-not-strings", "meta 'to' holds a number",
             with_meta(body3, lambda m: m.update(to=[did("bob"), 7])))
    bad_body("body-to-not-id", "meta 'to' holds a string that is not a device id",
             with_meta(body3, lambda m: m.update(to=[did("bob"), "carol"])))
    bad_body("body-meta-bom", "the meta line starts with a UTF-8 byte order mark",
             b"\xef\xbb\xbf" + body3)
    bad_body("body-meta-utf16", "the meta line is UTF-16 (with a BOM), not UTF-8",
             body3.split(b"\n", 1)[0].decode("utf-8").encode("utf-16") + b"\n"
             + body3.split(b"\n", 1)[1])
    bad_body("body-to-empty", "meta 'to' is empty",
             with_meta(body3, lambda m: m.update(to=[])))
    bad_body("body-created-huge", "meta 'created' is 2^62 (beyond the largest time)",
             with_meta(body3, lambda m: m.update(created=1 << 62)))
    bad_body("body-created-negative", "meta 'created' is -1",
             with_meta(body3, lambda m: m.update(created=-1)))
    bad_body("body-origins-key-not-id", "an 'origins' key that is not a device id",
             with_meta(body3, lambda m: m["origins"].update({"alice": card("alice")})))
    bad_body("body-manifest-key-not-id", "a 'manifest' key that is not a device id",
             with_meta(body3, lambda m: m["manifest"].update({"alice": [[1, 3]]})))
    for key in ("type", "v", "sender", "created", "to", "origins", "extra", "segments"):
        bad_body(f"body-missing-{key}", f"meta has no {key!r} (every meta key is required)",
                 with_meta(body3, lambda m, key=key: m.pop(key)))
    bad_body("body-segment-zero-count", "a segment with n = 0",
             with_meta(body3, lambda m: m["segments"][0].update(n=0)))
    bad_body("body-segment-reversed-range", "a segment with f > l",
             with_meta(body3, lambda m: m["segments"][0].update(f=3, l=1)))
    bad_body("body-segment-root-uppercase", "segment root in upper-case hex",
             with_meta(body3, lambda m: m["segments"][0].update(r=m["segments"][0]["r"].upper())))
    bad_body("body-segment-sig-short", "segment signature of 63 bytes",
             with_meta(body3, lambda m: m["segments"][0].update(s=m["segments"][0]["s"][:-2])))
    bad_body("body-count-mismatch", "segment count n = 3 but only two change lines follow",
             body3[:body3.rstrip(b"\n").rindex(b"\n") + 1])
    bad_body("body-extra-line", "one more line than the segments count",
             body3 + change("alice", 4) + b"\n")
    bad_body("body-proof-absurdly-long", "a proof longer than 2*64*n + 64 hashes is refused "
             "before any hashing", with_meta(body3, lambda m: m["segments"][0].update(
                 p=["00" * 32] * 449)))
    bad_body("body-origin-card-invalid", "the card given for the sender in 'origins' does not "
             "decode", with_meta(body3, lambda m: m["origins"].update({did("alice"): "SNK1:AAAA"})))

    # --- body: change lines ----------------------------------------------------------------
    def seg_body(lines: dict[int, bytes], include: list[int] | None = None,
                 origin: str = "alice") -> bytes:
        """A body whose segment is signed over exactly these (possibly bad) lines."""
        return make_body([segment(origin, lines, include)])

    good = change("alice", 2, rid="site-2")

    def with_line2(raw: bytes) -> bytes:
        return seg_body({1: lines3[1], 2: raw, 3: lines3[3]})

    cases = [
        ("change-spaces", "change JSON with a space after a colon (not canonical)",
         good.replace(b'"c":2', b'"c": 2')),
        ("change-key-order", "change keys not sorted",
         b'{"d":{"name":"well 2","status":"ok"},"c":2' + good[good.index(b',"i"'):]),
        ("change-escaped-unicode", "non-ASCII written as a \\u escape (must be the character)",
         change("alice", 2, data={"n": "é"}).replace("é".encode(), b"\\u00e9")),
        ("change-float-int", "an integer counter written as 2.0",
         good.replace(b'"c":2', b'"c":2.0')),
        ("change-duplicate-key", "the key 'c' twice",
         good.replace(b'"c":2,', b'"c":2,"c":2,')),
        ("change-extra-field", "an unknown field 'x'", good[:-1] + b',"x":1}'),
        ("change-missing-field", "no 't' field", good.replace(b',"t":' + str(T0 + 2000).encode(),
                                                              b"")),
        ("change-wrong-origin", "'o' names erin inside alice's segment",
         good.replace(did("alice").encode(), did("erin").encode())),
        ("change-outside-range", "counter 7 in a segment signed for 1..3",
         good.replace(b'"c":2', b'"c":7')),
        ("change-bad-op", "op 'upsert'", good.replace(b'"op":"put"', b'"op":"upsert"')),
        ("change-put-null-data", "a put with d = null",
         change("alice", 2, op="put", data={}).replace(b'"d":{}', b'"d":null')),
        ("change-del-with-data", "a delete that carries data",
         change("alice", 2, op="put").replace(b'"op":"put"', b'"op":"del"')),
        ("change-reserved-collection", "collection name starts with '_'",
         change("alice", 2, coll="_system")),
        ("change-collection-non-ascii", "collection name with a non-ASCII letter",
         change("alice", 2, coll="sitès")),
        ("change-collection-space", "collection name with a space",
         change("alice", 2, coll="my sites")),
        ("change-collection-too-long", "collection name of 65 characters",
         change("alice", 2, coll="c" * 65)),
        ("change-control-in-id", "record id with a TAB character (escaped as \\t)",
         change("alice", 2, rid="a\tb")),
        ("change-vv-has-origin", "'v' repeats the origin's own entry",
         change("alice", 2, vv={did("alice"): 2})),
        ("change-vv-zero", "a version-vector entry of 0", change("alice", 2, vv={did("erin"): 0})),
        ("change-time-float", "'t' is not an integer", change("alice", 2, t=1.5)),  # type: ignore[arg-type]
        ("change-not-utf8", "invalid UTF-8 in a string",
         good.replace(b"well 2", b"well \xff")),
        ("change-not-json", "the change line is not JSON", b"{\"c\":2,"),
        ("change-time-huge", "'t' is 10^20 (beyond the largest time, 253402300799999)",
         change("alice", 2, t=10 ** 20)),
        ("change-time-2-62", "'t' is 2^62", change("alice", 2, t=1 << 62)),
        ("change-time-past-max", "'t' is one above the largest time",
         change("alice", 2, t=253_402_300_800_000)),
        ("change-time-negative", "'t' is -1", change("alice", 2, t=-1)),
        ("change-vv-key-not-id", "a version-vector key that is not a device id",
         change("alice", 2, vv={"erin": 1})),
        ("change-vv-key-uppercase", "a version-vector key in upper case",
         change("alice", 2, vv={did("erin").upper(): 1})),
        ("change-vv-huge", "a version-vector entry of 2^53 (one above MAX_COUNTER)",
         change("alice", 2, vv={did("erin"): 1 << 53})),
        ("change-data-too-deep", "record data nested 65 levels deep",
         change("alice", 2, data={"x": _nested(64)})),
        ("change-data-int-huge", "an integer in record data beyond 2^53 - 1",
         change("alice", 2, data={"n": 1 << 53})),
        ("change-data-int-negative-huge", "an integer in record data below -(2^53 - 1)",
         change("alice", 2, data={"n": -(1 << 53)})),
        ("change-data-float-overflow", "1e400 in record data (not a finite double)",
         change("alice", 2, data={"n": 1.5}).replace(b"1.5", b"1e400")),
        ("change-lone-surrogate", "a lone surrogate written as \\ud800 in record data",
         change("alice", 2, data={"n": "x"}).replace(b'"x"', b'"\\ud800"')),
    ]
    for name, comment, raw in cases:
        bad_body("body-" + name, comment + " (the segment is signed over the bad line)",
                 with_line2(raw))
    s12 = segment("alice", {1: lines3[1], 2: lines3[2]})
    bad_body("body-changes-descending", "changes 2 then 1: lines must ascend by counter",
             make_body([B.Segment(s12.origin, 1, 2, s12.root, s12.sig, [], [lines3[2], lines3[1]])]))
    bad_body("body-changes-repeated", "change 1 twice (n = 2 in a range of 2)",
             make_body([B.Segment(s12.origin, 1, 2, s12.root, s12.sig, [], [lines3[1], lines3[1]])]))

    # --- auth: sender binding and segments -----------------------------------------------
    bad_body("auth-body-names-other-sender", "signed by alice, but the body says carol sent it",
             make_body([segment("alice", lines3)], sender="carol", origins=["alice", "carol"]),
             "auth")
    bad_body("auth-not-addressed-to-reader", "meta 'to' lists carol only",
             make_body([segment("alice", lines3)], to=["carol"]), "auth")
    bad_body("auth-sender-card-other-device", "the card given for alice in 'origins' is carol's",
             with_meta(body3, lambda m: m["origins"].update({did("alice"): card("carol")})),
             "auth")
    s = segment("alice", lines3)
    edited = dict(lines3)
    edited[2] = change("alice", 2, rid="site-2", data={"name": "well 2", "status": "dry"})
    bad_body("auth-change-edited", "a change edited after alice signed the segment root",
             make_body([B.Segment(s.origin, 1, 3, s.root, s.sig, [],
                                  [edited[1], edited[2], edited[3]])]), "auth")
    V.add("auth-co-recipient-edits-origin-change", "auth", "carol edits one of alice's changes "
          "and sends the packet as herself (carol's signature, carol as sender): alice's segment "
          "signature fails", seal(CAROL, [BOB], make_body(
              [B.Segment(s.origin, 1, 3, s.root, s.sig, [], [edited[1], edited[2], edited[3]])],
              sender="carol", origins=["alice", "carol"]), "carol-edit"))
    V.add("auth-co-recipient-resigns-segment", "auth", "carol edits alice's change and signs the "
          "new root with her own key, still claiming origin alice",
          seal(CAROL, [BOB], make_body([segment("alice", edited, signer=CAROL)], sender="carol",
                                       origins=["alice", "carol"]), "carol-resign"))
    bad_body("auth-segment-sig-flipped", "a bit of the segment signature flipped",
             make_body([B.Segment(s.origin, 1, 3, s.root, flip(s.sig, 5), [], s.changes)]),
             "auth")
    bad_body("auth-segment-root-flipped", "a bit of the signed root flipped",
             make_body([B.Segment(s.origin, 1, 3, flip(s.root, 0), s.sig, [], s.changes)]),
             "auth")
    bad_body("auth-segment-range-widened", "segment says 1..4 but was signed for 1..3 (a hash "
             "for leaf 4 is then missing)",
             make_body([B.Segment(s.origin, 1, 4, s.root, s.sig, [], s.changes)]), "auth")
    r = segment("erin", erin8, include=[2, 5])
    bad_body("auth-proof-too-short", "the relayed segment's proof lacks its last hash",
             make_body([B.Segment(r.origin, 1, 8, r.root, r.sig, r.proof[:-1], r.changes)]),
             "auth")
    bad_body("auth-proof-too-long", "the relayed segment's proof has one hash too many",
             make_body([B.Segment(r.origin, 1, 8, r.root, r.sig, r.proof + [r.proof[0]],
                                  r.changes)]), "auth")
    bad_body("auth-proof-hash-flipped", "a bit of a proof hash flipped",
             make_body([B.Segment(r.origin, 1, 8, r.root, r.sig,
                                  [flip(r.proof[0], 3)] + r.proof[1:], r.changes)]), "auth")
    bad_body("auth-proof-reordered", "proof hashes not in depth-first, left-to-right order",
             make_body([B.Segment(r.origin, 1, 8, r.root, r.sig, r.proof[::-1], r.changes)]),
             "auth")
    bad_body("auth-relayed-change-swapped", "change 3 carried with the proof made for change 2",
             make_body([B.Segment(r.origin, 1, 8, r.root, r.sig, r.proof,
                                  [erin8[3], erin8[5]])]), "auth")
    bad_body("auth-origin-unknown", "erin's segment, but erin is no peer and no card is carried",
             make_body([r], origins=["alice"]), "auth")
    bad_body("auth-origin-card-mismatch", "the card carried for erin's id is mallory's",
             with_meta(make_body([r]), lambda m: m["origins"].update({did("erin"): card("mallory")})),
             "auth")
    bad_body("auth-segment-missing-proof", "a subset of the range is carried without any proof",
             make_body([B.Segment(r.origin, 1, 8, r.root, r.sig, [], r.changes)]), "auth")
    return V.vectors


# --- card vectors ---------------------------------------------------------------------------

def b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def card_bytes(keys: DeviceKeys, name: bytes, *, version: int = 1, kind: int = KIND_DEVICE,
               raw_id: bytes | None = None, sign_public: bytes | None = None,
               enc_public: bytes | None = None, name_len: int | None = None) -> bytes:
    """Card body + checksum, built field by field (so invalid cards can be made)."""
    sp = keys.sign_public if sign_public is None else sign_public
    ep = keys.enc_public if enc_public is None else enc_public
    rid = derive_device_id(sp, ep) if raw_id is None else raw_id
    body = (bytes([version, kind]) + rid + sp + ep
            + bytes([len(name) if name_len is None else name_len]) + name)
    return body + crypto.sha256(CARD_PREFIX.encode() + body)[:4]


def card_text(raw: bytes) -> str:
    return CARD_PREFIX + b32(raw)


def build_cards() -> list[Vector]:
    vectors: list[Vector] = []

    def add(name: str, expect: str, comment: str, text: str) -> None:
        got, result = outcome(lambda: decode_card(text))
        if got != expect:
            raise AssertionError(f"card vector {name}: expected {expect}, got {got} ({result})")
        headers = [("expect", expect), ("comment", comment)]
        if expect == "success":
            c: Card = result
            headers += [("device-id", c.device_id), ("kind", str(c.kind)),
                        ("name-utf8", c.name.encode("utf-8").hex()),
                        ("sign-public", c.sign_public.hex()), ("enc-public", c.enc_public.hex())]
        vectors.append(Vector(name, headers, text.encode("ascii")))

    def named(label: str, name: str, **kw: Any) -> str:
        return card_text(card_bytes(device("card " + label), name.encode("utf-8"), **kw))

    for label, name, why in [
            ("ascii", "Alice field laptop", "plain ASCII name"),
            ("latin", "Zoë Ñúñez", "Latin letters with diacritics (NFC)"),
            ("greek", "Δημήτρης", "Greek"),
            ("cyrillic", "Алёна Ковальчук", "Cyrillic"),
            ("arabic", "علي حسن", "Arabic (right-to-left)"),
            ("devanagari", "राम शर्मा", "Devanagari with combining vowel signs"),
            ("cjk", "王小明的手机", "CJK ideographs"),
            ("hangul", "김민수", "Hangul syllables (NFC)"),
            ("emoji", "🚒 Truck 7", "an emoji outside the BMP (no joiner)"),
            ("one-char", "X", "a one-byte name"),
            ("max-len", "é" * 32, "exactly 64 bytes of UTF-8")]:
        add(f"ok-{label}", "success", f"valid card: {why}", named(label, name))
    srv = card_text(card_bytes(device("card server"), b"Office server", kind=KIND_SERVER))
    add("ok-server-kind", "success", "valid card of kind 2 (server)", srv)
    base = named("ascii", "Alice field laptop")
    add("ok-lower-case", "success", "the whole card in lower case (readers upper-case it)",
        base.lower())
    add("ok-line-breaks", "success", "card split by line breaks and spaces (whitespace is "
        "ignored)", base[:30] + "\n" + base[30:60] + " \r\n " + base[60:])

    k = device("card ascii")
    nm = b"Alice field laptop"
    raw = card_bytes(k, nm)
    add("bad-checksum", "card", "last checksum byte changed", card_text(flip(raw, len(raw) - 1)))
    add("bad-name-typo", "card", "one name character changed, checksum not updated",
        card_text(flip(raw, 2 + 10 + 64 + 1 + 3, 0x20)))
    add("bad-swapped-keys", "card", "signing and encryption keys swapped (checksum updated, "
        "device id kept)", card_text(card_bytes(k, nm, raw_id=k.raw_id, sign_public=k.enc_public,
                                                enc_public=k.sign_public)))
    add("bad-edited-sign-key", "card", "signing key replaced by another device's (checksum "
        "updated, device id kept)", card_text(card_bytes(k, nm, raw_id=k.raw_id,
                                                         sign_public=MALLORY.sign_public)))
    add("bad-id", "card", "device id bytes changed (checksum updated)",
        card_text(card_bytes(k, nm, raw_id=flip(k.raw_id, 0))))
    add("bad-prefix-snk2", "card", "prefix SNK2:", "SNK2:" + base[5:])
    add("bad-prefix-missing", "card", "no prefix", base[5:])
    add("bad-prefix-no-colon", "card", "prefix without its colon", "SNK1" + base[5:])
    add("bad-empty", "card", "an empty string", "")
    add("bad-base32-char", "card", "'1' is not in the base32 alphabet", base[:20] + "1" + base[21:])
    add("bad-base32-padding", "card", "base32 written with '=' padding",
        CARD_PREFIX + base64.b32encode(raw).decode())
    assert len(raw) % 5, "the ascii card must leave unused bits in its last character"
    last = base[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    add("bad-base32-noncanonical", "card", "last base32 character has non-zero unused bits",
        base[:-1] + alphabet[alphabet.index(last) ^ 1])
    add("bad-truncated", "card", "the last 10 characters are missing", base[:-10])
    add("bad-version-2", "card", "version byte 2 (checksum updated)", card_text(card_bytes(
        k, nm, version=2)))
    add("bad-kind-0", "card", "kind 0 (checksum updated)", card_text(card_bytes(k, nm, kind=0)))
    add("bad-kind-3", "card", "kind 3 (checksum updated)", card_text(card_bytes(k, nm, kind=3)))
    add("bad-zero-enc-key", "card", "all-zero encryption key (id and checksum match it)",
        card_text(card_bytes(k, nm, enc_public=bytes(32))))
    add("bad-name-too-long", "card", "a 65-byte name", card_text(card_bytes(k, b"n" * 65)))
    add("bad-name-empty", "card", "a zero-length name", card_text(card_bytes(k, b"")))
    add("bad-name-length-short", "card", "the length byte says 5 but 18 bytes follow",
        card_text(card_bytes(k, nm, name_len=5)))
    add("bad-name-length-long", "card", "the length byte says 30 but 18 bytes follow",
        card_text(card_bytes(k, nm, name_len=30)))
    for label, name, why in [
            ("non-nfc", "Zoe\u0301", "'e' + combining acute (NFD) instead of 'é'"),
            ("hangul-nfd", "\u1100\u1161", "Hangul as conjoining jamo (NFD)"),
            ("leading-space", " Alice", "a leading space"),
            ("trailing-space", "Alice ", "a trailing space"),
            ("control-bel", "Ali\x07ce", "a BEL control character"),
            ("control-newline", "Ali\nce", "a line feed"),
            ("control-del", "Ali\x7fce", "DEL (category Cc)"),
            ("zero-width-joiner", "👩\u200d🚒", "a zero-width joiner (category Cf)"),
            ("bidi-override", "abc\u202edcba", "a right-to-left override (category Cf)"),
            ("private-use", "x\ue000", "a private-use character (category Co)")]:
        add(f"bad-name-{label}", "card", f"name with {why}",
            card_text(card_bytes(k, name.encode("utf-8"))))
    add("bad-name-not-utf8", "card", "name bytes are not UTF-8",
        card_text(card_bytes(k, b"Al\xffce")))
    add("bad-name-overlong-utf8", "card", "an overlong UTF-8 encoding of '/'",
        card_text(card_bytes(k, b"a\xc0\xafb")))
    add("bad-name-surrogate", "card", "a UTF-8-encoded surrogate (not valid UTF-8)",
        card_text(card_bytes(k, b"a\xed\xa0\x80b")))
    return vectors


# --- drive vectors ------------------------------------------------------------------------

def build_drive() -> list[dict[str, Any]]:
    good = b"a packet's bytes"
    h = hashlib.sha256(good).hexdigest()
    other = hashlib.sha256(b"something else").hexdigest()
    cases: list[dict[str, Any]] = [
        {"dir": "packets", "name": f"{h}.pkt", "content": good.hex(), "expect": "read",
         "comment": "content hashes to its name"},
        {"dir": "packets", "name": f"{other}.pkt", "content": good.hex(), "expect": "payload",
         "comment": "well-formed name, content does not hash to it (damaged or incomplete)"},
        {"dir": "packets", "name": f"{h}.pkt", "content": good[:-1].hex(), "expect": "payload",
         "comment": "a truncated copy under the full file's name"},
        {"dir": "packets", "name": f"{h.upper()}.pkt", "content": good.hex(),
         "expect": "ignored", "comment": "upper-case hex is not a valid name"},
        {"dir": "packets", "name": f"{h[:-1]}.pkt", "content": good.hex(), "expect": "ignored",
         "comment": "63 hex digits"},
        {"dir": "packets", "name": f"{h}0.pkt", "content": good.hex(), "expect": "ignored",
         "comment": "65 hex digits"},
        {"dir": "packets", "name": f"{h}.PKT", "content": good.hex(), "expect": "ignored",
         "comment": "suffix in upper case"},
        {"dir": "packets", "name": f"{h}.pkt.part", "content": good.hex(), "expect": "ignored",
         "comment": "a partial write left in the wrong folder"},
        {"dir": "packets", "name": f"{h}.rcpt", "content": good.hex(), "expect": "ignored",
         "comment": "a receipt suffix in the packets folder"},
        {"dir": "packets", "name": f".{h}.pkt", "content": good.hex(), "expect": "ignored",
         "comment": "a hidden name (leading dot)"},
        {"dir": "packets", "name": f"{h}.pkt ", "content": good.hex(), "expect": "ignored",
         "comment": "a trailing space"},
        {"dir": "packets", "name": f"{h}.pkt~", "content": good.hex(), "expect": "ignored",
         "comment": "an editor backup name"},
        {"dir": "packets", "name": f"{h[:20]}g{h[21:]}.pkt", "content": good.hex(),
         "expect": "ignored", "comment": "a non-hex character"},
        {"dir": "packets", "name": "report-2025-06-15.pkt", "content": good.hex(),
         "expect": "ignored", "comment": "a descriptive name (would leak information)"},
        {"dir": "packets", "name": f"../{h}.pkt", "content": None, "expect": "ignored",
         "comment": "path traversal: never a plain file name in the folder"},
        {"dir": "packets", "name": f"sub/{h}.pkt", "content": None, "expect": "ignored",
         "comment": "a sub-folder path"},
        {"dir": "packets", "name": f"/tmp/{h}.pkt", "content": None, "expect": "ignored",
         "comment": "an absolute path"},
        {"dir": "tmp", "name": f"{h[:32]}.part", "content": good.hex(), "expect": "ignored",
         "comment": "a write in progress: never read as a packet"},
        {"dir": "receipts", "name": f"{h}.rcpt", "content": good.hex(), "expect": "read",
         "comment": "receipts follow the same rule with suffix .rcpt"},
        {"dir": "receipts", "name": f"{h}.pkt", "content": good.hex(), "expect": "ignored",
         "comment": "a packet suffix in the receipts folder"},
        # special files: "type" says what the name is (default: a regular file)
        {"dir": "packets", "name": f"{h}.pkt", "content": good.hex(), "type": "symlink",
         "expect": "drive", "comment": "a symbolic link (to a file holding the right "
         "content, elsewhere): never followed"},
        {"dir": "packets", "name": f"{h}.pkt", "content": None, "type": "symlink-dev-zero",
         "expect": "drive", "comment": "a symbolic link to /dev/zero: never followed"},
        {"dir": "packets", "name": f"{h}.pkt", "content": None, "type": "fifo",
         "expect": "drive", "comment": "a FIFO: refused without blocking"},
        {"dir": "packets", "name": f"{h}.pkt", "content": None, "type": "folder",
         "expect": "drive", "comment": "a folder with a packet's name"},
        {"dir": "receipts", "name": f"{h}.rcpt", "content": None, "type": "fifo",
         "expect": "drive", "comment": "receipts: a FIFO is refused the same way"},
    ]
    return cases


# --- writing ----------------------------------------------------------------------------------

def render_all() -> dict[str, bytes]:
    """Relative path -> file bytes, for everything this script owns."""
    out: dict[str, bytes] = {}
    for v in build_cards():
        out[f"card/{v.name}"] = v.render()
    for v in build_packets():
        out[f"packet/{v.name}"] = v.render()
    out["drive/names.json"] = (json.dumps(build_drive(), indent=1, ensure_ascii=False)
                               + "\n").encode("utf-8")
    return out


def write(root: Path, files: dict[str, bytes]) -> None:
    for sub in ("card", "packet", "drive"):
        d = root / sub
        d.mkdir(parents=True, exist_ok=True)
        for old in d.iterdir():
            if f"{sub}/{old.name}" not in files and old.is_file():
                old.unlink()
    for rel, data in files.items():
        path = root / rel
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    files = render_all()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            write(Path(tmp), files)
        bad = [rel for rel, data in files.items()
               if not (HERE / rel).exists() or (HERE / rel).read_bytes() != data]
        for sub in ("card", "packet", "drive"):
            bad += [f"{sub}/{p.name}" for p in (HERE / sub).iterdir()
                    if f"{sub}/{p.name}" not in files] if (HERE / sub).exists() else []
        for rel in bad:
            print(f"differs: {rel}")
        return 1 if bad else 0
    write(args.out, files)
    counts: dict[str, int] = {}
    for rel, data in files.items():
        if rel.startswith(("card/", "packet/")):
            expect = data.split(b"\n", 1)[0].decode().split(": ", 1)[1]
            key = f"{rel.split('/')[0]} {expect}"
            counts[key] = counts.get(key, 0) + 1
    for key in sorted(counts):
        print(f"{counts[key]:4d}  {key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
