"""The packet body: manifest, origin-signed segments and change lines (sans-I/O).

The body is newline-delimited JSON.  Line 1 is the *meta* object; then come
the change lines of every segment, in segment order.  Each change line is the
exact canonical JSON of one change; its leaf hash is SHA-256(0x00 || line).
See ``formats/packet-v1.md`` for the full description.
"""

from __future__ import annotations

import re
import struct
from json.encoder import encode_basestring
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from sneakersync.wire import canonical
from sneakersync.wire.canonical_check import CanonicalReader, NotProven
from sneakersync.wire import crypto
from sneakersync.wire import merkle
from sneakersync.errors import AuthError, BodyError, CardError, UsageError
from sneakersync.wire.identity import Card, decode_card, parse_id_text
from sneakersync.wire.change import Version

BODY_TYPE = "sneakersync/body"
BODY_VERSION = 1
SEG_DOMAIN = b"sneakersync segment v1\x00"
CHANGE_KEYS = frozenset({"c", "d", "i", "k", "o", "op", "t", "v"})
MAX_COUNTER = (1 << 53) - 1
# times (milliseconds since 1970): up to 9999-12-31T23:59:59.999Z, so every date library,
# SQLite and every export format can hold them
MAX_TIME = 253_402_300_799_999
MAX_DEPTH = 64  # nesting of arrays and objects in record data
MAX_INT = MAX_COUNTER  # integers in record data: -(2^53 - 1) .. 2^53 - 1 (I-JSON)
_DEVICE_ID = re.compile(r"[a-z2-7]{16}")
_LONG_NUMBER = re.compile(rb"[0-9]{16}|[eE][+-]?[0-9]{3}")
# the same test as _LONG_NUMBER, 4x faster on long lines: map bytes to classes in C
# (digit -> 0, e/E -> e, +/- -> +, anything else -> .), then look for the patterns
_NUM_CLASS = bytes(ord("0") if 48 <= b <= 57 else ord("e") if b in b"eE"
                   else ord("+") if b in b"+-" else ord(".") for b in range(256))


def _long_number(raw: bytes) -> bool:
    t = raw.translate(_NUM_CLASS)
    return b"0000000000000000" in t or b"e000" in t or b"e+000" in t
_CONTROL = re.compile(r"[\x00-\x1f]")
_COLLECTION = re.compile(r"[A-Za-z0-9.-][A-Za-z0-9_.-]{0,63}")


@dataclass
class Segment:
    """Changes ``first..last`` (some of them) of one origin, with its signed root."""

    origin: str
    first: int
    last: int
    root: bytes
    sig: bytes
    proof: list[bytes]
    changes: list[bytes] = field(default_factory=list)


@dataclass
class Body:
    sender: str
    created: int
    to: list[str]
    manifest: dict[str, list[list[int]]]
    origins: dict[str, str]
    segments: list[Segment]
    extra: dict[str, Any] = field(default_factory=dict)


def segment_message(origin: str, first: int, last: int, root: bytes) -> bytes:
    raw_id = _origin_raw(origin)
    return SEG_DOMAIN + raw_id + struct.pack(">QQ", first, last) + root


def _origin_raw(origin: str) -> bytes:
    raw = parse_id_text(origin)
    if raw is None:
        raise BodyError(f"origin {origin!r} is not a device id")
    return raw


def sign_segment(sign_secret: bytes, origin: str, first: int, last: int, root: bytes) -> bytes:
    return crypto.sign(sign_secret, segment_message(origin, first, last, root))


def encode(body: Body) -> bytes:
    meta = {
        "type": BODY_TYPE, "v": BODY_VERSION, "sender": body.sender, "created": body.created,
        "to": body.to, "manifest": body.manifest, "origins": body.origins, "extra": body.extra,
        "segments": [{"o": s.origin, "f": s.first, "l": s.last, "r": s.root.hex(),
                      "s": s.sig.hex(), "p": [h.hex() for h in s.proof], "n": len(s.changes)}
                     for s in body.segments],
    }
    parts = [canonical.dumpb(meta)]
    for s in body.segments:
        parts.extend(s.changes)
    parts.append(b"")  # the final LF, without copying the whole body a second time
    return b"\n".join(parts)


def _req(obj: dict[str, Any], key: str, typ: type | tuple[type, ...]) -> Any:
    if key not in obj or not isinstance(obj[key], typ) or isinstance(obj[key], bool) and typ is int:
        raise BodyError(f"body field {key!r} is missing or has the wrong type")
    return obj[key]


def _hex(text: Any, n: int, what: str) -> bytes:
    problem = canonical.hex_problem(text, n)
    if problem:
        raise BodyError(f"{what} {problem}")
    return bytes.fromhex(text)


def _ranges(value: Any) -> list[list[int]]:
    if not isinstance(value, list):
        raise BodyError("manifest ranges must be a list")
    out = []
    prev = 0
    for r in value:
        if (not isinstance(r, list) or len(r) != 2 or not all(type(x) is int for x in r)
                or not prev < r[0] <= r[1] <= MAX_COUNTER):
            raise BodyError("manifest ranges must be ascending, disjoint [first, last] pairs")
        prev = r[1] + 1
        out.append([r[0], r[1]])
    return out


def decode(data: bytes, *, max_changes: int = 50_000_000) -> Body:
    """Parse and structurally check a body (no signatures checked here).

    ``max_changes`` is checked against the segment counts of the meta line before any
    change line is split off (a reader's bound on one packet, formats/packet-v1.md).
    """
    if not data.endswith(b"\n"):
        raise BodyError("body must end with a newline")
    try:
        # strict UTF-8 (json.loads would take a BOM or UTF-16/32 bytes as well)
        meta = canonical.loads_strict(data[:data.index(b"\n")].decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError("body meta line is not JSON") from exc
    if not isinstance(meta, dict) or meta.get("type") != BODY_TYPE:
        raise BodyError("body meta line is not a sneakersync body")
    if type(meta.get("v")) is not int or meta.get("v") != BODY_VERSION:
        raise BodyError(f"body version {meta.get('v')!r} is not supported")
    sender = _req(meta, "sender", str)
    _origin_raw(sender)
    created = _req(meta, "created", int)
    if not 0 <= created <= MAX_TIME:
        raise BodyError(f"body 'created' must be a time from 0 to {MAX_TIME} ms")
    to = _req(meta, "to", list)
    if not to or not all(isinstance(t, str) and _DEVICE_ID.fullmatch(t) for t in to):
        raise BodyError("body 'to' must list device ids")
    manifest_raw = _req(meta, "manifest", dict)
    manifest = {}
    for origin, rs in manifest_raw.items():
        _origin_raw(origin)
        manifest[origin] = _ranges(rs)
    origins = _req(meta, "origins", dict)
    if not all(_DEVICE_ID.fullmatch(k) and isinstance(v, str) for k, v in origins.items()):
        raise BodyError("body 'origins' must map device ids to identity cards")
    extra = _req(meta, "extra", dict)
    segs_raw = _req(meta, "segments", list)
    segments: list[Segment] = []
    total = 0
    for s in segs_raw:
        if not isinstance(s, dict):
            raise BodyError("a segment must be an object")
        origin = _req(s, "o", str)
        _origin_raw(origin)
        first, last, n = _req(s, "f", int), _req(s, "l", int), _req(s, "n", int)
        if not 1 <= first <= last <= MAX_COUNTER or not 0 < n <= last - first + 1:
            raise BodyError("segment range or count is invalid")
        proof_raw = _req(s, "p", list)
        if len(proof_raw) > 2 * 64 * n + 64:
            raise BodyError("segment proof is too long")
        proof = [_hex(h, 32, "proof hash") for h in proof_raw]
        segments.append(Segment(origin, first, last, _hex(_req(s, "r", str), 32, "segment root"),
                                _hex(_req(s, "s", str), 64, "segment signature"), proof))
        total += n
    if total > max_changes:  # before any change line is split off or parsed
        raise BodyError(f"body carries {total} changes; at most {max_changes} are taken "
                        "in one packet")
    # at most total + 2 pieces whatever the body holds: the meta line, the change lines
    # and what follows the last newline (nothing)
    lines = data.split(b"\n", total + 1)
    if len(lines) != total + 2 or lines[-1]:
        raise BodyError("body change lines do not match the segment counts")
    pos = 1
    for seg, s in zip(segments, segs_raw):
        seg.changes = lines[pos:pos + s["n"]]
        pos += s["n"]
    return Body(sender, created, to, manifest, origins, segments, extra)


def change_line(counter: int, data_json: str, rid: str, collection: str, origin: str, op: str,
                ts: int, others_json: str) -> bytes:
    """The canonical bytes of one change, assembled from canonical parts.

    Keys in code point order: c, d, i, k, o, op, t, v; ``v`` is the version
    vector without the origin's own entry (that entry is ``c``).
    """
    return (f'{{"c":{counter},"d":{data_json},"i":{encode_basestring(rid)},'
            f'"k":{encode_basestring(collection)},"o":{encode_basestring(origin)},"op":"{op}",'
            f'"t":{ts},"v":{others_json}}}').encode("utf-8")


def parse_changes(lines: Sequence[bytes], origin: str, first: int, last: int) -> list[Version]:
    """Parse a segment's change lines, each strictly (as :func:`parse_change` decides).

    Each line is parsed once and proven canonical without re-encoding it
    (:mod:`sneakersync.wire.canonical_check`); a line that check cannot prove
    (not canonical, or a rare form it leaves undecided) goes through
    :func:`parse_change`, which decides and words the error.
    """
    try:
        texts = [raw.decode("utf-8") for raw in lines]
    except UnicodeDecodeError:
        return [parse_change(raw, origin, first, last) for raw in lines]
    collections: set[str] = set()  # names already checked in this segment
    seg = (origin, first, last, encode_basestring(origin), collections)
    out = []
    for raw, text, got in zip(lines, texts, CanonicalReader().read_lines(texts)):
        v = None if got is None else _proven_change(*got, text, seg)
        out.append(v if v is not None else parse_change(raw, origin, first, last))
    return out


_ORDER = ("c", "d", "i", "k", "o", "op", "t", "v")
# byte classes of the text outside strings: digits to 0, { and [ to [, the rest to '.'
# (then counting brackets and looking for 16 zeros is 4x faster than a regular expression)
_CLASSES = bytes(48 if 48 <= b <= 57 else 91 if b in b"{[" else 46 for b in range(256))


def _proven_change(obj: Any, structure: str, text: str,
                   seg: tuple[str, int, int, str, set[str]]) -> Version | None:
    """The change ``obj`` parsed from ``text`` (``structure``: the text outside strings),
    proven canonical, when it passes every other check of :func:`parse_change`; None
    when :func:`parse_change` must decide.  ``seg``: the segment's origin, first and last
    counter, the origin as JSON, and the collection names found valid in it so far."""
    origin, first, last, origin_json, collections = seg
    # canonical: the keys are in ascending order, so this is parse_change's key-set test
    if type(obj) is not dict or tuple(obj) != _ORDER:
        return None
    c, d, i, k, o, op, t, v = obj.values()
    if o != origin or type(c) is not int or not first <= c <= last:
        return None
    if op == "put":
        if type(d) is not dict:
            return None
    elif op != "del" or d is not None:
        return None
    if type(k) is not str:
        return None
    if k not in collections:
        if not _COLLECTION.fullmatch(k):
            return None
        collections.add(k)
    if (type(i) is not str or not 0 < len(i) <= 200
            or ("\\" in text and _CONTROL.search(i))):
        return None  # (a control character in i is escaped, so needs a backslash)
    if type(t) is not int or not 0 <= t <= MAX_TIME:
        return None
    if type(v) is not dict or o in v:
        return None
    for dev, n in v.items():
        if not _DEVICE_ID.fullmatch(dev) or type(n) is not int or not 0 < n <= MAX_COUNTER:
            return None
    data_json = None
    if d is not None:
        # deeper than MAX_DEPTH needs more brackets, an integer beyond MAX_INT 16 digits
        classes = structure.encode().translate(_CLASSES)
        if classes.count(b"[") > MAX_DEPTH or b"0000000000000000" in classes:
            try:
                check_data(d)
            except BodyError:
                return None
        # canonical text: the data is the exact slice between '"d":' and ',"i":' (no
        # string can hold ',"i":' as its quote would be escaped, and nothing after the
        # record id holds it)
        data_json = text[10 + len(str(c)):text.rfind(',"i":')]
    if v:
        full_vv = dict(v)
        full_vv[o] = c
        full_vv = dict(sorted(full_vv.items()))
        vv_json = canonical.dumps_counts(full_vv)
    else:
        full_vv = {o: c}
        vv_json = f"{{{origin_json}:{c}}}"  # (o is origin)
    return Version.of(o, c, op, d, full_vv, t, k, i, data_json, vv_json)


def parse_change(raw: bytes, origin: str, first: int, last: int, obj: Any = None) -> Version:
    """Strictly parse one change line that must belong to ``origin`` within first..last."""
    if obj is None:
        try:
            obj = canonical.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise BodyError("a change line is not JSON") from exc
    if not isinstance(obj, dict) or obj.keys() != CHANGE_KEYS:
        raise BodyError("a change line has missing or unknown fields")
    c, d, i, k, o, op, t, v = (obj[x] for x in ("c", "d", "i", "k", "o", "op", "t", "v"))
    if o != origin or type(c) is not int or not first <= c <= last:
        raise BodyError("a change does not belong to its segment")
    if op not in ("put", "del") or (op == "put") != isinstance(d, dict) or (op == "del" and d is not None):
        raise BodyError("a change has an invalid operation or data")
    if (not isinstance(k, str) or not _COLLECTION.fullmatch(k)
            or not isinstance(i, str) or not 0 < len(i) <= 200 or _CONTROL.search(i)):
        raise BodyError("a change names an invalid collection or record id")
    if type(t) is not int or not 0 <= t <= MAX_TIME:
        raise BodyError(f"a change's time must be an integer from 0 to {MAX_TIME} ms")
    if not isinstance(v, dict) or o in v:
        raise BodyError("a change has an invalid version vector")
    for dev, n in v.items():
        if not _DEVICE_ID.fullmatch(dev) or type(n) is not int or not 0 < n <= MAX_COUNTER:
            raise BodyError("a change has an invalid version vector")
    if d is not None and (raw.count(b"{") + raw.count(b"[") > MAX_DEPTH
                          or _long_number(raw)):
        check_data(d)
    # canonical form: rebuild the exact bytes (this also yields the data's canonical JSON)
    try:
        data_json = canonical.dumps(d)
    except UsageError as exc:  # e.g. a number too large for a double (1e400)
        raise BodyError(f"a change's data cannot be stored: {exc}") from exc
    wire_vv = canonical.dumps_counts(v)
    full_vv = dict(v)
    full_vv[o] = c
    full_vv = dict(sorted(full_vv.items()))
    try:
        expected = change_line(c, data_json, i, k, o, op, t, wire_vv)
    except UnicodeEncodeError as exc:
        raise BodyError("a change line is not valid UTF-8 text") from exc
    if expected != raw:
        raise BodyError("a change line is not in canonical form")
    return Version(origin=o, counter=c, op=op, data=d, vv=full_vv, ts=t, collection=k, rid=i,
                   data_json=data_json if d is not None else None,
                   vv_json=canonical.dumps_counts(full_vv))


def check_data(value: Any) -> None:
    """Record data limits (section 5.4): nesting at most MAX_DEPTH, integers within
    +-MAX_INT. Raises BodyError. Iterative, so no input can exhaust the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            if type(item) is int and not -MAX_INT <= item <= MAX_INT:
                raise BodyError("record data holds an integer beyond +-(2^53 - 1)")
            continue
        if depth > MAX_DEPTH:
            raise BodyError(f"record data is nested deeper than {MAX_DEPTH} levels")
        stack.extend((c, depth + 1) for c in children)


@dataclass
class Verified:
    segment: Segment
    versions: list[Version]
    known: dict[tuple[int, int], bytes]
    hashes: list[bytes] = field(default_factory=list)


def card_for(body: Body, origin: str) -> Card | None:
    text = body.origins.get(origin)
    if text is None:
        return None
    try:
        card = decode_card(text)
    except CardError as exc:
        raise BodyError(f"origin card for {origin} is invalid: {exc}") from exc
    if card.device_id != origin:
        raise AuthError(f"origin card does not belong to device {origin}")
    return card


def verify_segments(body: Body, key_for: Callable[[str], bytes | None]) -> list[Verified]:
    """Check every segment: its changes, Merkle root and origin signature.

    ``key_for(origin)`` returns the origin's Ed25519 public key if we already
    know it; otherwise the origin card carried in the body is used (a card is
    self-certifying: the device id is derived from its keys).
    """
    out = []
    for seg in body.segments:
        key = key_for(seg.origin)
        if key is None:
            card = card_for(body, seg.origin)
            if card is None:
                raise AuthError(f"no key known for origin {seg.origin}")
            key = card.sign_public
        versions = parse_changes(seg.changes, seg.origin, seg.first, seg.last)
        counters = [v.counter for v in versions]
        if counters != sorted(set(counters)):
            raise BodyError("segment changes must be in ascending counter order, no repeats")
        hashes = [merkle.leaf_hash(raw) for raw in seg.changes]
        leaves = dict(zip(counters, hashes))
        root, known = merkle.verify_root(seg.first, seg.last, leaves, seg.proof)
        if not crypto.ct_equal(root, seg.root):
            raise AuthError(f"changes of {seg.origin} do not match their signed root")
        crypto.verify(key, segment_message(seg.origin, seg.first, seg.last, seg.root), seg.sig)
        out.append(Verified(seg, versions, known, hashes))
    return out


def ranges_from(counters: Sequence[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for c in sorted(counters):
        if out and c == out[-1][1] + 1:
            out[-1][1] = c
        elif not out or c > out[-1][1]:
            out.append([c, c])
    return out
