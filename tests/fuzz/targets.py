"""Fuzz targets: one function per parser, plus the full authenticated import path.

Each target takes arbitrary bytes.  The property for every target:

* only :class:`sneakersync.errors.SneakersyncError` subclasses escape (anything else,
  including :class:`Invariant`, is a finding);
* no single input takes longer than :data:`HANG_S` seconds;
* target-specific invariants (e.g. the import path never applies part of a packet,
  never accepts a forged one) raise :class:`Invariant`.

Targets share one lazily built :class:`Context` per process: deterministic keys, two
devices (sender ``alice`` and receiver ``bob``) with a few records, and valid seed
inputs for every target.  Nothing here is imported by the package itself.

Used by ``tests/test_fuzz.py`` (short Hypothesis run + regression replay) and by
``benchmarks/fuzz_campaign.py`` (long mutation campaigns, atheris if installed).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import random
import shutil
import struct
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sneakersync.wire import age
from sneakersync.wire import crypto
from sneakersync.wire import envelope
from sneakersync.wire import identity
from sneakersync.wire import packet
from sneakersync.wire import body as body_mod
from sneakersync.store import home as home_mod
from sneakersync.store import peers as peers_mod
from sneakersync.media.drive import Drive
from sneakersync.errors import SneakersyncError
from sneakersync.sync.engine import ImportReport, build_export, import_packet

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VECTORS = REPO / "formats" / "vectors"
CCTV = REPO.parent / "shared" / "vectors" / "age-cctv" / "testdata"
REGRESSIONS = HERE / "regressions"
HANG_S = 1.0
FIXED_NOW = 1_750_000_000_000  # ms, for deterministic packets


class Invariant(AssertionError):
    """A target-specific property failed (a finding, never an expected error)."""


def det_rng(seed: int) -> Callable[[int], bytes]:
    r = random.Random(seed)
    return r.randbytes


# --- context ------------------------------------------------------------------------


@dataclass
class Context:
    root: Path
    alice: Any
    bob: Any
    carol: Any
    alice_store: Any
    bob_store: Any
    seeds: dict[str, list[bytes]] = field(default_factory=dict)
    valid_packets: set[str] = field(default_factory=set)
    header_hash: bytes = b""
    env_sign: tuple[bytes, bytes] = (b"", b"")
    beacon: Any = None
    drive_dir: Path | None = None
    receipt_ok: set[bytes] = field(default_factory=set)


_CTX: Context | None = None


def context() -> Context:
    global _CTX
    if _CTX is None:
        _CTX = _build_context()
    return _CTX


def _cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _build_context() -> Context:
    root = Path(tempfile.mkdtemp(prefix="sneakersync-fuzz-"))
    atexit.register(_cleanup, root)
    alice = home_mod.create(root / "alice", "Alice field laptop", rng=det_rng(1))
    bob = home_mod.create(root / "bob", "Bob clinic tablet", rng=det_rng(2))
    carol = home_mod.create(root / "carol", "Carol office", rng=det_rng(3))
    sa, sb, sc = alice.open_store(), bob.open_store(), carol.open_store()
    for st, others in ((sa, (bob, carol)), (sb, (alice, carol)), (sc, (alice, bob))):
        for o in others:
            peers_mod.add(st, o.card.encode())
    sa.write_many("shelters", [(f"s{i}", {"name": f"Shelter {i}", "beds": i * 3,
                                          "place": "Riverside"}) for i in range(6)], ts=FIXED_NOW)
    sa.delete("shelters", "s2", ts=FIXED_NOW + 1)
    sa.put("households", {"head": "Juma", "size": 5, "notes": "ünïcode ✓"}, "h1",
           ts=FIXED_NOW + 2)
    sc.write_many("shelters", [("s1", {"name": "Shelter one (carol)"})], ts=FIXED_NOW + 3)
    ctx = Context(root, alice, bob, carol, sa, sb)

    def export(src_home: Any, src_store: Any, to: list[str], seed: int, **kw: Any) -> bytes:
        recips = [peers_mod.by_id(src_store, d) for d in to]
        out = build_export(src_home, src_store, recips, rng=det_rng(seed), now=FIXED_NOW, **kw)
        assert out is not None
        return out.data

    pkt_b = export(alice, sa, [bob.device_id], 10)
    pkt_bc = export(alice, sa, [bob.device_id, carol.device_id], 11, pad_to=0)
    pkt_c = export(alice, sa, [carol.device_id], 12)  # not for bob
    pkt_cb = export(carol, sc, [bob.device_id], 13, pad_to=256)
    # a relayed packet: carol holds alice's changes and forwards them to bob
    rep = ImportReport()
    import_packet(carol, sc, pkt_c, rep)
    assert rep.imported == 1, rep.as_json()
    pkt_relay = export(carol, sc, [bob.device_id], 14)
    packets = [pkt_b, pkt_bc, pkt_c, pkt_cb, pkt_relay]
    ctx.valid_packets = {packet.packet_id(p) for p in packets}
    sc.close()

    # inner layers of the packets addressed to bob
    plain: list[bytes] = []
    bodies: list[bytes] = []
    for p in (pkt_b, pkt_bc, pkt_cb, pkt_relay):
        header, pt = age.decrypt(p, bob.keys.enc_secret)
        plain.append(pt)
        env, body = envelope.open_envelope(pt, header_hash=crypto.sha256(header.raw),
                                           accept_sender=lambda k: None)
        bodies.append(body)
    # envelopes for the stand-alone envelope target are bound to one fixed header hash
    ctx.header_hash = hashlib.sha256(b"fuzz header").digest()
    keys = alice.keys
    ctx.env_sign = (keys.sign_secret, keys.sign_public)
    envs = [envelope.seal(sign_secret=keys.sign_secret, sign_public=keys.sign_public,
                          header_hash=ctx.header_hash, body=b, pad_to=pad)
            for b, pad in zip(bodies[:2], (0, 512))]
    envs.append(envelope.seal(sign_secret=keys.sign_secret, sign_public=keys.sign_public,
                              header_hash=ctx.header_hash, body=b"x" * 1000))
    zd = _builtin_dict()
    small = [b for b in bodies if len(b) <= 0x7FFF]
    if zd is not None:  # small bodies compressed with the built-in dictionary (flag bit 0)
        envs += [envelope.seal(sign_secret=keys.sign_secret, sign_public=keys.sign_public,
                               header_hash=ctx.header_hash, body=b, dictionary=zd)
                 for b in small[:2]]
    comp = [struct.pack(">H", min(len(b), 0x7FFF)) +
            zlib_free_zstd(b) for b in bodies[:2]] + [struct.pack(">H", 3) + zlib_free_zstd(b"abc")]
    if zd is not None:
        import zstandard

        cd = zstandard.ZstdCompressor(level=19, dict_data=zstandard.ZstdCompressionDict(zd),
                                      write_content_size=True)
        comp += [struct.pack(">H", 0x8000 | len(b)) + cd.compress(b) for b in small[:2]]
    changes: list[bytes] = []
    for b in bodies:
        dec = body_mod.decode(b)
        for s in dec.segments:
            if s.origin == alice.device_id:
                changes.append(b"\n".join(s.changes))

    cards = [h.card.encode() for h in (alice, bob, carol)]
    cards.append(identity.DeviceKeys.generate(det_rng(9)).card("Nadia – ÜÑÏ", 2).encode())
    cards.append(cards[0].lower())
    cards.append(cards[1][:20] + "\n " + cards[1][20:])

    s = ctx.seeds
    s["card"] = [c.encode("utf-8") for c in cards] + _vector_strings("card", "SNK1:")
    s["card_raw"] = [_card_body(c) for c in cards[:4]]
    s["age_header"] = [p[:age.parse_header(p)[1]] for p in packets] + packets[:2] + _cctv()
    s["age_decrypt"] = packets + _cctv() + _vector_blobs("packet")
    s["envelope"] = envs + plain[:2]
    s["decompress"] = comp
    s["body"] = bodies
    s["changes"] = changes
    s["qr_frame"] = _qr_seeds(pkt_b) + _vector_blobs("qr-frame")
    s["beacon"] = _beacon_seeds(ctx)
    s["drive_layout"] = _drive_seeds(packets)
    s["import_packet"] = packets + _vector_blobs("packet")
    s["import_resealed"] = bodies
    if _receipts_module() is not None:
        s["receipt"] = _receipt_seeds(ctx) + _vector_blobs("receipt")
    return ctx


def _receipt_seeds(ctx: Context) -> list[bytes]:
    """Receipts 'carol' (acting as a server) issues to bob for alice's changes."""
    rc = _receipts_module()
    hashes = [bytes(h) for (h,) in ctx.alice_store.conn.execute(
        "SELECT hash FROM changes WHERE origin=? ORDER BY counter", (ctx.alice.device_id,))]
    out = []
    for upto in (1, len(hashes)):
        body = rc.ReceiptBody(ctx.carol.device_id, ctx.carol.keys.sign_public, ctx.bob.device_id,
                              {ctx.alice.device_id: rc.Covered([[1, upto]],
                                                               rc.root_of(hashes[:upto]))})
        out.append(rc.encode(body, ctx.carol.keys.sign_secret))
    out.append(rc.wrap(out[-1], ctx.bob.keys.enc_public, ctx.carol.keys.enc_secret))
    ctx.receipt_ok = {hashlib.sha256(x).digest() for x in out}
    return out


def _builtin_dict() -> bytes | None:
    """The package's default built-in zstd dictionary, if this checkout has one."""
    try:
        from sneakersync.wire.dictionary import builtin, default_id
    except ImportError:
        return None
    did = default_id()
    return builtin().get(did) if did is not None else None


def zlib_free_zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=3, write_content_size=True).compress(data)


def _card_body(text: str) -> bytes:
    import base64

    b32 = text[len(identity.CARD_PREFIX):]
    raw = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    return raw[:-identity.CHECKSUM_LEN]


def _vector_files(kind: str) -> list[Path]:
    d = VECTORS / kind
    return sorted(p for p in d.rglob("*") if p.is_file()) if d.is_dir() else []


def _json_strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _json_strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _json_strings(v)]
    return []


def _vector_strings(kind: str, prefix: str) -> list[bytes]:
    out: list[bytes] = []
    for p in _vector_files(kind):
        if p.suffix == ".json":
            try:
                strings = _json_strings(json.loads(p.read_text("utf-8")))
            except (ValueError, UnicodeDecodeError):
                continue
            out += [x.encode("utf-8") for x in strings if x.upper().startswith(prefix)]
        elif p.suffix in (".txt", ".card"):
            out.append(p.read_bytes())
    return out


def _vector_blobs(kind: str) -> list[bytes]:
    """Binary inputs of a vector folder: raw files, and long hex / base64 JSON strings."""
    import base64
    import binascii

    out: list[bytes] = []
    for p in _vector_files(kind):
        if p.suffix in (".py", ".md"):
            continue
        if p.suffix != ".json":
            out.append(p.read_bytes()[:1 << 20])
            continue
        try:
            strings = _json_strings(json.loads(p.read_text("utf-8")))
        except (ValueError, UnicodeDecodeError):
            continue
        for x in strings:
            if len(x) < 32:
                continue
            try:
                out.append(bytes.fromhex(x))
                continue
            except ValueError:
                pass
            try:
                out.append(base64.b64decode(x, validate=True))
            except (ValueError, binascii.Error):
                pass
    return out[:200]


def _cctv() -> list[bytes]:
    out: list[bytes] = []
    if not CCTV.is_dir():
        return out
    for p in sorted(CCTV.iterdir()):
        raw = p.read_bytes()
        head, _, body = raw.partition(b"\n\n")
        if b"compressed: zlib" in head:
            try:
                body = zlib.decompress(body)
            except zlib.error:
                continue
        if b"armor" in p.name.encode():
            continue
        out.append(body)
    return out


def _qr_seeds(pkt: bytes) -> list[bytes]:
    from sneakersync.wire import qr_frame as F

    pid = F.packet_id(pkt)
    out = []
    for t, idx in ((8, 0), (64, 1), (1240, 2)):
        sym = (pkt * 3)[:t]
        out.append(F.encode_frame(F.Frame(pid, len(pkt), t, idx, 7, 0, idx * 5, sym)))
    return out


def _beacon_seeds(ctx: Context) -> list[bytes]:
    from sneakersync.wire.beacon import build_advertisement
    from sneakersync.wire.beacon_keys import BeaconIdentity, PeerKeys

    me = BeaconIdentity.from_device_keys(ctx.bob.keys)
    alice = BeaconIdentity.from_device_keys(ctx.alice.keys)
    peers = [PeerKeys.from_card(ctx.alice.card, verified=True),
             PeerKeys.from_card(ctx.carol.card, verified=False)]
    bob_as_peer = PeerKeys.from_card(ctx.bob.card, verified=True)
    ctx.beacon = (me, peers)
    now = FIXED_NOW / 1000
    out = [build_advertisement(alice, now=now),
           build_advertisement(alice, now=now, data_for=[bob_as_peer], has_data_for_server=True)]
    for p in _vector_files("beacon"):
        if p.suffix == ".json":
            try:
                adv = json.loads(p.read_text("utf-8")).get("adv")
                if isinstance(adv, str):
                    out.append(bytes.fromhex(adv))
            except ValueError:
                pass
    return out


def _drive_seeds(packets: list[bytes]) -> list[bytes]:
    good = [hashlib.sha256(p).hexdigest() for p in packets[:2]]
    return [
        f"packets/{good[0]}.pkt\x00".encode() + packets[0][:64],
        f"packets/{good[1]}.pkt\x00\npackets/{good[0]}.pkt\x00x\nreceipts/{good[0]}.rcpt\x00".encode(),
        b"tmp/0123456789abcdef0123456789abcdef.part\x00partial",
        f"packets/{good[0].upper()}.pkt\x00\npackets/{good[0]}.pkt.pkt\x00\npackets/.pkt\x00".encode(),
    ]


def _receipts_module() -> Any:
    try:
        from sneakersync.wire import receipt as receipts_codec  # type: ignore[attr-defined]
    except ImportError:
        return None
    return receipts_codec


# --- targets ------------------------------------------------------------------------


def t_card(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    card = identity.decode_card(text)
    again = identity.decode_card(card.encode())
    if again != card:
        raise Invariant("a decoded card does not round-trip")


def t_card_raw(data: bytes) -> None:
    """Card *body* bytes, given a valid checksum and base32: gets past the checksum, so
    the version, kind, id, key and name checks see the damage."""
    import base64

    prefix = identity.CARD_PREFIX.encode("ascii")
    checksum = crypto.sha256(prefix + data)[:identity.CHECKSUM_LEN]
    text = identity.CARD_PREFIX + base64.b32encode(data + checksum).decode().rstrip("=")
    card = identity.decode_card(text)
    if identity.decode_card(card.encode()) != card:
        raise Invariant("a decoded card does not round-trip")


def t_age_header(data: bytes) -> None:
    header, pos = age.parse_header(data)
    if not 0 < pos <= len(data) or header.raw != data[:pos]:
        raise Invariant("header offset/raw inconsistent")


def t_age_decrypt(data: bytes) -> None:
    ctx = context()
    age.decrypt(data, ctx.bob.keys.enc_secret, max_size=1 << 22)
    if packet.packet_id(data) not in ctx.valid_packets and not _is_cctv(data):
        raise Invariant("a mutated age file decrypted")


_CCTV_SET: set[bytes] | None = None


def _is_cctv(data: bytes) -> bool:
    global _CCTV_SET
    if _CCTV_SET is None:
        _CCTV_SET = {hashlib.sha256(b).digest() for b in _cctv()}
    return hashlib.sha256(data).digest() in _CCTV_SET


def t_envelope(data: bytes) -> None:
    ctx = context()
    try:
        envelope.parse(data)
    except SneakersyncError:
        pass
    env, body = envelope.open_envelope(data, header_hash=ctx.header_hash,
                                       accept_sender=lambda k: None, max_body=1 << 22)
    if env.sender_sign_public != ctx.env_sign[1]:
        raise Invariant("an envelope verified under a key we never signed with")
    if len(body) != env.body_len:
        raise Invariant("body length differs from the signed length")


def t_decompress(data: bytes) -> None:
    """First 2 bytes: the signed length (low 15 bits) and whether a dictionary is used."""
    if len(data) < 2:
        return
    limit = struct.unpack(">H", data[:2])[0]
    dictionary = _builtin_dict() if limit & 0x8000 else None  # top bit: built-in dictionary
    limit &= 0x7FFF
    out = envelope.decompress(data[2:], limit, dictionary)
    if len(out) != limit:
        raise Invariant("decompress returned a wrong length")


def t_body(data: bytes) -> None:
    ctx = context()
    b = body_mod.decode(data)
    known = {ctx.alice.device_id: ctx.alice.keys.sign_public}
    body_mod.verify_segments(b, known.get)


def t_changes(data: bytes) -> None:
    ctx = context()
    lines = data.split(b"\n")
    versions = body_mod.parse_changes(lines, ctx.alice.device_id, 1, 1 << 40)
    if len(versions) != len(lines):
        raise Invariant("parse_changes lost or invented a line")
    for raw, v in zip(lines, versions):
        if body_mod.parse_change(raw, ctx.alice.device_id, 1, 1 << 40) != v:
            raise Invariant("batch and single parse disagree")


def t_qr_frame(data: bytes) -> None:
    from sneakersync.wire import qr_frame as F

    f = F.decode_frame(data)
    if F.encode_frame(f) != bytes(data):
        raise Invariant("a decoded frame does not re-encode to the same bytes")


def t_beacon(data: bytes) -> None:
    from sneakersync.wire.beacon import find_service_data, parse_advertisement, recognise

    ctx = context()
    me, peers = ctx.beacon
    find_service_data(data)  # documented never to raise
    try:
        parse_advertisement(data)
    except SneakersyncError:
        pass
    recognise(data, me, peers, now=FIXED_NOW / 1000)


def t_receipt(data: bytes) -> None:
    """Receipt codec: plain receipts (decode, verify, roots) and age-wrapped ones."""
    rc = _receipts_module()
    if rc is None:
        return
    ctx = context()
    if data.startswith(b"age-encryption.org/"):
        data = rc.unwrap(data, ctx.bob.keys.enc_secret)
    try:
        rc.decode(data)
    except SneakersyncError:
        pass
    got = rc.verify(data, server_key=ctx.carol.keys.sign_public, server_id=ctx.carol.device_id,
                    device_id=ctx.bob.device_id)
    if hashlib.sha256(data).digest() not in ctx.receipt_ok:
        raise Invariant("a receipt nobody signed verified")

    def hashes_for(origin: str, ranges: Any) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        for lo, hi in ranges:
            out.update((c, bytes(h)) for c, h in ctx.alice_store.conn.execute(
                "SELECT counter, hash FROM changes WHERE origin=? AND counter BETWEEN ? AND ?",
                (origin, lo, hi)))
        return out

    rc.check_roots(got, hashes_for)
    rc.compare(got, None)


def t_drive_layout(data: bytes) -> None:
    """Arbitrary file names (NUL-separated name/content pairs) on a drive folder."""
    ctx = context()
    if ctx.drive_dir is None:
        ctx.drive_dir = _mk(ctx.root / "drive")
    drive = Drive(ctx.drive_dir, create=True)
    for sub in ("packets", "receipts", "tmp"):
        d = drive.root / sub
        for n in os.listdir(d):
            p = d / n
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink()
    for item in data.split(b"\n")[:16]:
        name, _, content = item.partition(b"\x00")
        sub, _, leaf = name.partition(b"/")
        if sub not in (b"packets", b"receipts", b"tmp") or not leaf or b"/" in leaf \
                or leaf in (b".", b"..") or len(leaf) > 200:
            continue
        try:
            (drive.root / sub.decode()).joinpath(os.fsdecode(leaf)).write_bytes(content)
        except (OSError, ValueError):
            continue  # the harness could not create it: not a finding
    seen = 0
    for kind, suffix in (("packets", ".pkt"), ("receipts", ".rcpt"), ("tmp", ".part")):
        for p in drive.entries(kind, suffix):
            seen += 1
            if p.parent != drive.root / kind:
                raise Invariant("an entry escaped its folder")
            try:
                got = drive.read(p)
            except SneakersyncError:
                continue
            if hashlib.sha256(got).hexdigest() != p.name.split(".")[0]:
                raise Invariant("read returned bytes that do not hash to the name")
    list(drive.packets())
    drive.clean_tmp(older_than_s=1e9)


def _mk(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def integrity(ctx: Context | None = None) -> str:
    """``PRAGMA integrity_check`` of the receiver's store (run after a campaign)."""
    ctx = ctx or context()
    return str(ctx.bob_store.conn.execute("PRAGMA integrity_check").fetchone()[0])


def _store_state(store: Any) -> tuple[int, ...]:
    q = store.conn.execute
    return (q("SELECT COUNT(*), COALESCE(SUM(counter),0) FROM changes").fetchone()
            + q("SELECT COUNT(*), COALESCE(SUM(LENGTH(data)),0) FROM records").fetchone()
            + q("SELECT COUNT(*) FROM segments").fetchone()
            + q("SELECT COUNT(*), COALESCE(SUM(LENGTH(ranges)),0) FROM knowledge").fetchone())


def _check_import(ctx: Context, data: bytes, *, resealed: bool) -> None:
    store = ctx.bob_store
    before = _store_state(store)
    rep = ImportReport()
    try:
        status = import_packet(ctx.bob, store, data, rep, name="fuzz")
    except SneakersyncError as exc:
        raise Invariant(f"import_packet raised {type(exc).__name__}: {exc}") from exc
    after = _store_state(store)
    if status not in ("imported", "duplicate", "not_for_me", "quarantined", "rejected"):
        raise Invariant(f"unknown status {status!r}")
    if status != "imported" and after != before:
        raise Invariant(f"store changed although the packet was {status}")
    if status == "imported" and not resealed and packet.packet_id(data) not in ctx.valid_packets:
        raise Invariant("a mutated packet was imported")
    if status == "rejected" and len(rep.rejected) != 1:
        raise Invariant("a rejected packet was not reported")


def t_import_packet(data: bytes) -> None:
    """The whole authenticated path on (mutated) packet bytes; must never raise."""
    _check_import(context(), data, resealed=False)


def t_import_resealed(data: bytes) -> None:
    """Mutated *plaintext bodies*, sealed validly by a trusted peer, then imported.

    Gets past the crypto layers, so the body parser, segment verification, Merkle
    proofs and the store apply path see the damage.  Origin signatures still guard
    the change lines: a damaged change must never be applied.
    """
    ctx = context()
    keys = ctx.alice.keys
    sealed = packet.seal(keys, [ctx.bob.keys.enc_public], data, rng=det_rng(len(data)), level=1)
    store = ctx.bob_store
    before = store.conn.execute("SELECT COUNT(*) FROM changes").fetchone()[0]
    _check_import(ctx, sealed, resealed=True)
    # every change bob holds must hash-match a line alice signed (origin attribution)
    new = store.conn.execute("SELECT COUNT(*) FROM changes").fetchone()[0]
    if new > before:
        for origin, raw in store.conn.execute(
                "SELECT origin, raw FROM changes ORDER BY rowid DESC LIMIT ?", (new - before,)):
            if origin not in (ctx.alice.device_id, ctx.carol.device_id):
                raise Invariant(f"a change from unknown origin {origin} was applied")
            if origin == ctx.alice.device_id and bytes(raw) not in _alice_lines(ctx):
                raise Invariant("a change alice never signed was applied as hers")


_ALICE_LINES: set[bytes] | None = None


def _alice_lines(ctx: Context) -> set[bytes]:
    global _ALICE_LINES
    if _ALICE_LINES is None:
        _ALICE_LINES = {bytes(r) for (r,) in ctx.alice_store.conn.execute(
            "SELECT raw FROM changes")}
    return _ALICE_LINES


TARGETS: dict[str, Callable[[bytes], None]] = {
    "card": t_card,
    "card_raw": t_card_raw,
    "age_header": t_age_header,
    "age_decrypt": t_age_decrypt,
    "envelope": t_envelope,
    "decompress": t_decompress,
    "body": t_body,
    "changes": t_changes,
    "qr_frame": t_qr_frame,
    "beacon": t_beacon,
    "receipt": t_receipt,
    "drive_layout": t_drive_layout,
    "import_packet": t_import_packet,
    "import_resealed": t_import_resealed,
}


def available() -> list[str]:
    """Targets whose module exists in this checkout."""
    names = list(TARGETS)
    if _receipts_module() is None:
        names.remove("receipt")
    try:
        import sneakersync.wire.qr_frame  # noqa: F401
    except ImportError:
        names.remove("qr_frame")
    try:
        import sneakersync.wire.beacon  # noqa: F401
    except ImportError:
        names.remove("beacon")
    return names


def seeds(name: str) -> list[bytes]:
    got = list(context().seeds.get(name, []))
    got += regression_cases(name)
    return got or [b""]


def regression_cases(name: str) -> list[bytes]:
    d = REGRESSIONS / name
    return [p.read_bytes() for p in sorted(d.glob("*.bin"))] if d.is_dir() else []


# --- running one input --------------------------------------------------------------


@dataclass
class Finding:
    target: str
    kind: str  # "exception" | "invariant" | "hang"
    detail: str
    data: bytes
    elapsed: float = 0.0

    @property
    def signature(self) -> str:
        """Deduplication key: kind plus the exception type and first line."""
        return f"{self.kind}:{self.detail.splitlines()[0][:120] if self.detail else ''}"


def run_one(name: str, data: bytes, fn: Callable[[bytes], None] | None = None) -> Finding | None:
    """Run one input; None if it behaved (returned, or raised one of our errors)."""
    fn = fn or TARGETS[name]
    t0 = time.perf_counter()
    try:
        fn(data)
    except SneakersyncError:
        err: Finding | None = None
    except Invariant as exc:
        err = Finding(name, "invariant", f"Invariant: {exc}", data)
    except Exception as exc:  # noqa: BLE001 - anything else is a finding
        import traceback

        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
        err = Finding(name, "exception", f"{type(exc).__name__} at {where}: {exc}", data)
    else:
        err = None
    elapsed = time.perf_counter() - t0
    if err is None and elapsed > HANG_S:
        err = Finding(name, "hang", f"took {elapsed:.2f} s", data)
    if err is not None:
        err.elapsed = elapsed
    return err


def save_regression(f: Finding) -> Path:
    d = REGRESSIONS / f.target
    d.mkdir(parents=True, exist_ok=True)
    path = d / (hashlib.sha256(f.data).hexdigest()[:16] + ".bin")
    path.write_bytes(f.data)
    path.with_suffix(".txt").write_text(f"{f.kind}: {f.detail}\n", "utf-8")
    return path
