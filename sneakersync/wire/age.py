"""The outer layer: a codec for the age v1 file format (c2sp.org/age).

Only the X25519 recipient type is implemented; stanzas of other types are
parsed (the header grammar is the same for every type) and then ignored as
"not ours". Armor, scrypt and ML-KEM recipients are not implemented. The exact
profile, with byte tables and the rules a reader must enforce, is
``formats/age-profile.md``.

Everything here is sans-I/O: bytes in, bytes out; randomness comes from ``rng``.

Layout of this module, top to bottom: constants and data types, strict base64,
header parsing and encoding, the X25519 stanza, STREAM (encryptor, decryptor),
whole-buffer helpers, Bech32 key encodings.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from sneakersync.wire import crypto
from sneakersync.wire.crypto import Rng, system_rng
from sneakersync.errors import HeaderError, HmacError, NoMatchError, PayloadError, SneakersyncError, UsageError

HEADER_INTRO = b"age-encryption.org/v1\n"
VERSION_PREFIX = b"age-encryption.org/"
STANZA_PREFIX = b"-> "
MAC_PREFIX = b"---"
X25519_TYPE = "X25519"
SCRYPT_TYPE = "scrypt"

X25519_INFO = b"age-encryption.org/v1/X25519"
HEADER_INFO = b"header"
PAYLOAD_INFO = b"payload"

FILE_KEY_LEN = 16
MAC_LEN = 32
PAYLOAD_NONCE_LEN = 16
TAG_LEN = 16
CHUNK_SIZE = 64 * 1024
ENC_CHUNK_SIZE = CHUNK_SIZE + TAG_LEN
BODY_COLUMNS = 64
MAX_HEADER_SIZE = 1 << 20  # StreamDecryptor refuses headers larger than this (1 MiB)

_WRAP_NONCE = bytes(12)
_MAX_CHUNKS = 1 << 88  # the STREAM counter is 11 bytes
_FEED_SLICE = 1 << 20  # StreamDecryptor buffers input in slices of this size


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: ``-> type args...`` and its decoded body."""

    type: str
    args: tuple[str, ...]  # the arguments after the type
    body: bytes


@dataclass(frozen=True)
class Header:
    """A parsed header; ``raw`` is the exact header bytes, intro through the MAC line."""

    stanzas: tuple[Stanza, ...]
    mac: bytes
    raw: bytes


class _TruncatedHeader(HeaderError):
    """The buffer ends inside the header (more input might complete it)."""


# --- strict base64 (RFC 4648 alphabet, no padding, canonical) -------------------------

_B64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _b64encode(raw: bytes) -> bytes:
    return base64.b64encode(raw).rstrip(b"=")


def _b64decode(text: bytes) -> bytes:
    """Decode unpadded base64, rejecting padding, stray characters and non-canonical bits."""
    if len(text) % 4 == 1 or not _B64_CHARS.issuperset(text):
        raise HeaderError("invalid base64 in header")
    raw = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    if _b64encode(raw) != text:
        raise HeaderError("non-canonical base64 in header")
    return raw


# --- header parsing ---------------------------------------------------------------------


def _next_line(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.find(b"\n", pos)
    if end < 0:
        raise _TruncatedHeader("the header is truncated")
    return data[pos:end], end + 1


def _check_intro(line: bytes) -> None:
    if line + b"\n" == HEADER_INTRO:
        return
    if line.startswith(HEADER_INTRO[:-1]):
        raise HeaderError("the version line has extra bytes (a CRLF line ending?)")
    if line.startswith(VERSION_PREFIX):
        raise HeaderError("unsupported age format version")
    raise HeaderError("not an age file (bad version line)")


def _check_intro_prefix(prefix: bytes) -> None:
    """Fail early when even an incomplete first line cannot become the v1 intro."""
    n = min(len(prefix), len(HEADER_INTRO))
    if prefix[:n] != HEADER_INTRO[:n]:
        line = prefix.split(b"\n", 1)[0]
        _check_intro(line)  # always raises here
        raise HeaderError("not an age file (bad version line)")  # pragma: no cover


def _parse_args(text: bytes) -> list[str]:
    args = text.split(b" ")
    for arg in args:
        if not arg or any(c < 0x21 or c > 0x7E for c in arg):
            raise HeaderError("empty or invalid stanza argument")
    return [arg.decode("ascii") for arg in args]


def _parse_stanza(data: bytes, arg_line: bytes, pos: int) -> tuple[Stanza, int]:
    args = _parse_args(arg_line[len(STANZA_PREFIX):])
    lines: list[bytes] = []
    while True:
        line, pos = _next_line(data, pos)
        if len(line) > BODY_COLUMNS or not _B64_CHARS.issuperset(line):
            raise HeaderError("invalid stanza body line")
        lines.append(line)
        if len(line) < BODY_COLUMNS:
            break
    body = _b64decode(b"".join(lines))
    return Stanza(args[0], tuple(args[1:]), body), pos


def _parse_mac_line(line: bytes) -> bytes:
    encoded = line[len(MAC_PREFIX) + 1:]
    if line[len(MAC_PREFIX):len(MAC_PREFIX) + 1] != b" " or len(encoded) != 43:
        raise HeaderError("malformed header MAC line")
    return _b64decode(encoded)


def parse_header(data: bytes) -> tuple[Header, int]:
    """Parse the header strictly; return it and the offset where the payload starts."""
    data = bytes(data)
    _check_intro_prefix(data[: len(HEADER_INTRO)])
    line, pos = _next_line(data, 0)
    _check_intro(line)
    stanzas: list[Stanza] = []
    while True:
        line, pos = _next_line(data, pos)
        if line.startswith(MAC_PREFIX):
            mac = _parse_mac_line(line)
            if not stanzas:
                raise HeaderError("the header has no recipient stanza")
            return Header(tuple(stanzas), mac, data[:pos]), pos
        if line.startswith(STANZA_PREFIX[:2]) and not line.startswith(STANZA_PREFIX):
            raise HeaderError("a recipient stanza has no arguments")
        if not line.startswith(STANZA_PREFIX):
            raise HeaderError("unexpected line in header")
        stanza, pos = _parse_stanza(data, line, pos)
        stanzas.append(stanza)


# --- header encoding and MAC --------------------------------------------------------------


def _encode_stanza(stanza: Stanza) -> bytes:
    first = b" ".join(a.encode("ascii") for a in (stanza.type, *stanza.args))
    text = _b64encode(stanza.body)
    lines = [text[i:i + BODY_COLUMNS] for i in range(0, len(text), BODY_COLUMNS)]
    if not lines or len(lines[-1]) == BODY_COLUMNS:
        lines.append(b"")  # a stanza always ends with a short (maybe empty) line
    return STANZA_PREFIX + first + b"\n" + b"".join(line + b"\n" for line in lines)


def _mac_key(file_key: bytes) -> bytes:
    return crypto.hkdf_sha256(file_key, b"", HEADER_INFO, 32)


def _mac_input(raw: bytes) -> bytes:
    """The MAC covers the header up to and including ``---`` (not the space after it)."""
    return raw[: raw.rfind(b"\n" + MAC_PREFIX) + 1 + len(MAC_PREFIX)]


def _build_header(file_key: bytes, stanzas: Sequence[Stanza]) -> Header:
    unmacced = HEADER_INTRO + b"".join(_encode_stanza(s) for s in stanzas) + MAC_PREFIX
    mac = crypto.hmac_sha256(_mac_key(file_key), unmacced)
    raw = unmacced + b" " + _b64encode(mac) + b"\n"
    return Header(tuple(stanzas), mac, raw)


# --- the X25519 recipient type ------------------------------------------------------------


def _random(rng: Rng, n: int) -> bytes:
    value = rng(n)
    if len(value) != n:
        raise UsageError(f"rng returned {len(value)} bytes, expected {n}")
    return value


def _wrap_key(shared: bytes, share: bytes, recipient: bytes) -> bytes:
    return crypto.hkdf_sha256(shared, share + recipient, X25519_INFO, 32)


def _x25519_stanza(file_key: bytes, recipient: bytes, rng: Rng) -> Stanza:
    if len(recipient) != crypto.X25519_LEN:
        raise UsageError("an X25519 recipient must be 32 bytes")
    ephemeral = _random(rng, crypto.X25519_LEN)
    share = crypto.x25519_public(ephemeral)
    try:
        shared = crypto.x25519(ephemeral, recipient)
    except PayloadError as exc:
        raise UsageError("the recipient is not a usable X25519 public key") from exc
    body = crypto.aead_encrypt(_wrap_key(shared, share, recipient), _WRAP_NONCE, file_key)
    return Stanza(X25519_TYPE, (_b64encode(share).decode("ascii"),), body)


def _x25519_share(stanza: Stanza) -> bytes:
    """Validate an X25519 stanza's shape (before any crypto) and return its share."""
    if len(stanza.args) != 1:
        raise HeaderError("an X25519 stanza must have exactly one share argument")
    share = _b64decode(stanza.args[0].encode("ascii"))
    if len(share) != crypto.X25519_LEN:
        raise HeaderError("the X25519 share must be 32 bytes")
    if len(stanza.body) != FILE_KEY_LEN + TAG_LEN:
        raise HeaderError("the X25519 stanza body must be 32 bytes")
    return share


def _open_x25519(stanza: Stanza, share: bytes, identity: bytes, recipient: bytes) -> bytes | None:
    try:
        shared = crypto.x25519(identity, share)
    except PayloadError as exc:
        raise HeaderError("the X25519 share gives an all-zero shared secret") from exc
    try:
        return crypto.aead_decrypt(_wrap_key(shared, share, recipient), _WRAP_NONCE, stanza.body)
    except PayloadError:
        return None  # addressed to someone else


def _check_scrypt_alone(header: Header) -> None:
    types = [s.type for s in header.stanzas]
    if SCRYPT_TYPE in types and len(types) != 1:
        raise HeaderError("an scrypt stanza must be the only stanza in the header")


def unwrap_file_key(header: Header, identity: bytes) -> bytes:
    """Find the file key with our X25519 secret and verify the header MAC with it."""
    if len(identity) != crypto.X25519_LEN:
        raise UsageError("an X25519 identity must be 32 bytes")
    _check_scrypt_alone(header)
    ours = [(s, _x25519_share(s)) for s in header.stanzas if s.type == X25519_TYPE]
    recipient = crypto.x25519_public(identity)
    for stanza, share in ours:
        file_key = _open_x25519(stanza, share, identity, recipient)
        if file_key is not None:
            _verify_mac(header, file_key)
            return file_key
    raise NoMatchError(
        "no recipient stanza opens with this identity",
        hints=("the packet was encrypted for another device",),
    )


def _verify_mac(header: Header, file_key: bytes) -> None:
    expected = crypto.hmac_sha256(_mac_key(file_key), _mac_input(header.raw))
    if not crypto.ct_equal(expected, header.mac):
        raise HmacError("the header MAC does not verify")


# --- STREAM ------------------------------------------------------------------------------


def _payload_key(file_key: bytes, nonce: bytes) -> bytes:
    return crypto.hkdf_sha256(file_key, nonce, PAYLOAD_INFO, 32)


def _chunk_nonce(counter: int, last: bool) -> bytes:
    if counter >= _MAX_CHUNKS:
        raise PayloadError("too many STREAM chunks")
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class StreamEncryptor:
    """Incremental encryption: ``update`` pieces, then ``finish`` once.

    The first bytes returned carry the header and payload nonce. Memory is bounded
    by one chunk plus the piece being processed.
    """

    def __init__(self, recipients: Sequence[bytes], *, rng: Rng = system_rng) -> None:
        if not recipients:
            raise UsageError("at least one recipient is required")
        file_key = _random(rng, FILE_KEY_LEN)
        stanzas = [_x25519_stanza(file_key, bytes(r), rng) for r in recipients]
        self.header = _build_header(file_key, stanzas)
        nonce = _random(rng, PAYLOAD_NONCE_LEN)
        self._key = _payload_key(file_key, nonce)
        self._prefix = self.header.raw + nonce
        self._pending = bytearray()
        self._counter = 0
        self._finished = False

    def _seal(self, chunk: bytes, last: bool) -> bytes:
        sealed = crypto.aead_encrypt(self._key, _chunk_nonce(self._counter, last), chunk)
        self._counter += 1
        return sealed

    def _take_prefix(self) -> bytes:
        prefix, self._prefix = self._prefix, b""
        return prefix

    def update(self, data: bytes) -> bytes:
        if self._finished:
            raise UsageError("the encryptor is already finished")
        return b"".join(self._chunks(data, final=False))

    def finish(self, data: bytes = b"") -> bytes:
        """Seal ``data`` and the final chunk: ``update(data) + finish()`` in one pass,
        without copying ``data`` into the pending buffer first (a packet is sealed
        this way in one call)."""
        if self._finished:
            raise UsageError("the encryptor is already finished")
        self._finished = True
        return b"".join(self._chunks(data, final=True))

    def _chunks(self, data: bytes, final: bool) -> list[bytes]:
        out = [self._take_prefix()]
        if self._pending:
            self._pending += data
            buf: bytes | bytearray = self._pending
        else:
            buf = data
        pos = 0
        with memoryview(buf) as view:
            # A chunk is sealed as non-final only once we know more data follows it.
            while len(view) - pos > CHUNK_SIZE:
                out.append(self._seal(bytes(view[pos:pos + CHUNK_SIZE]), last=False))
                pos += CHUNK_SIZE
            rest = bytes(view[pos:])
        if final:
            out.append(self._seal(rest, last=True))
            self._pending = bytearray()
        else:
            self._pending = bytearray(rest)
        return out


def encrypt_iter(
    chunks: Iterable[bytes], recipients: Sequence[bytes], *, rng: Rng = system_rng
) -> Iterator[bytes]:
    """Encrypt an iterable of plaintext pieces, yielding the age file piece by piece."""
    encryptor = StreamEncryptor(recipients, rng=rng)
    for piece in chunks:
        out = encryptor.update(piece)
        if out:
            yield out
    yield encryptor.finish()


class StreamDecryptor:
    """Incremental decryption with bounded memory.

    ``feed`` returns plaintext chunks that each authenticated; the data is complete
    and untruncated only once ``finish`` returns without raising. If a problem is
    found after some chunks of the same ``feed`` call verified, those chunks are
    returned and the error is raised by the next call (CCTV release semantics).
    Buffered: at most one encrypted chunk plus 1 MiB (before the header ends, at
    most ``MAX_HEADER_SIZE`` bytes), whatever the size of the pieces fed; the
    returned plaintext is of course as large as the piece.
    """

    def __init__(self, identity: bytes, *, max_size: int | None = None) -> None:
        if len(identity) != crypto.X25519_LEN:
            raise UsageError("an X25519 identity must be 32 bytes")
        self._identity = bytes(identity)
        self._max_size = max_size
        self.header: Header | None = None
        self._file_key = b""
        self._key = b""
        self._buf = bytearray()
        self._scan_from = 0
        self._counter = 0
        self._released = 0
        self._last_seen = False
        self._finished = False
        self._error: SneakersyncError | None = None

    def feed(self, data: bytes) -> list[bytes]:
        return self._run(bytes(data), final=False)

    def finish(self) -> list[bytes]:
        return self._run(b"", final=True)

    @property
    def done(self) -> bool:
        """True once ``finish`` has returned successfully."""
        return self._finished

    def _run(self, data: bytes, final: bool) -> list[bytes]:
        if self._error is not None:
            raise self._error
        if self._finished:
            raise UsageError("the decryptor is already finished")
        out: list[bytes] = []
        try:
            view = memoryview(data)
            for start in range(0, len(view), _FEED_SLICE):  # keeps the buffer small
                self._buf += view[start:start + _FEED_SLICE]
                self._step(out, False)
            self._step(out, final)
        except SneakersyncError as exc:
            self._error = exc
            if not out:
                raise
            return out  # release what verified; the error comes next call
        self._finished = final
        return out

    def _step(self, out: list[bytes], final: bool) -> None:
        if self.header is None and not self._read_header(final):
            return
        if not self._key and not self._read_nonce(final):
            return
        self._read_chunks(out, final)

    def _header_may_be_complete(self) -> bool:
        """Cheap test: a MAC line (the only line starting ``---``) has fully arrived."""
        mark = self._buf.find(b"\n" + MAC_PREFIX, self._scan_from)
        if mark < 0:
            self._scan_from = max(0, len(self._buf) - len(MAC_PREFIX))
            return False
        self._scan_from = mark
        return self._buf.find(b"\n", mark + 1) >= 0

    def _read_header(self, final: bool) -> bool:
        _check_intro_prefix(bytes(self._buf[: len(HEADER_INTRO)]))
        if not final and not self._header_may_be_complete():
            if len(self._buf) > MAX_HEADER_SIZE:
                raise HeaderError("the header is too large")
            return False
        try:
            header, offset = parse_header(bytes(self._buf[:MAX_HEADER_SIZE]))
        except _TruncatedHeader:
            if final or len(self._buf) >= MAX_HEADER_SIZE:
                raise HeaderError("the file ends inside the header") from None
            return False
        self._file_key = unwrap_file_key(header, self._identity)
        self.header = header
        del self._buf[:offset]
        return True

    def _read_nonce(self, final: bool) -> bool:
        if len(self._buf) < PAYLOAD_NONCE_LEN:
            if final:
                raise HeaderError("the file ends before the payload nonce")
            return False
        self._key = _payload_key(self._file_key, bytes(self._buf[:PAYLOAD_NONCE_LEN]))
        del self._buf[:PAYLOAD_NONCE_LEN]
        return True

    def _read_chunks(self, out: list[bytes], final: bool) -> None:
        pos = 0
        try:
            while True:
                avail = len(self._buf) - pos
                if self._last_seen:
                    if avail:
                        raise PayloadError("trailing data after the final chunk")
                    return
                if avail >= ENC_CHUNK_SIZE:
                    out.append(self._open(bytes(self._buf[pos:pos + ENC_CHUNK_SIZE]), True))
                    pos += ENC_CHUNK_SIZE
                elif final and avail:
                    out.append(self._open(bytes(self._buf[pos:]), False))
                    pos = len(self._buf)
                elif final:
                    raise PayloadError("the payload ends without a final chunk")
                else:
                    return
        finally:
            del self._buf[:pos]

    def _open(self, sealed: bytes, full: bool) -> bytes:
        if len(sealed) < TAG_LEN:
            raise PayloadError("a payload chunk is shorter than its tag")
        size = len(sealed) - TAG_LEN
        if self._max_size is not None and self._released + size > self._max_size:
            raise PayloadError(f"the payload is larger than the limit of {self._max_size} bytes")
        plaintext = None
        if full:  # a full-size chunk is normally not the last; try that first
            try:
                plaintext = crypto.aead_decrypt(self._key, _chunk_nonce(self._counter, False), sealed)
            except PayloadError:
                plaintext = None
        if plaintext is None:
            plaintext = crypto.aead_decrypt(self._key, _chunk_nonce(self._counter, True), sealed)
            if not plaintext and self._counter:
                raise PayloadError("the final chunk is empty but the payload is not")
            self._last_seen = True
        self._counter += 1
        self._released += size
        return plaintext


# --- whole-buffer helpers ------------------------------------------------------------------


def encrypt(plaintext: bytes, recipients: Sequence[bytes], *, rng: Rng = system_rng) -> bytes:
    """Encrypt ``plaintext`` to one or more 32-byte X25519 public keys."""
    return b"".join(encrypt_iter([plaintext], recipients, rng=rng))


def decrypt(data: bytes, identity: bytes, *, max_size: int | None = None) -> tuple[Header, bytes]:
    """Decrypt a whole age file; on any failure raise and release no plaintext."""
    from sneakersync.wire.armor import dearmor, is_armored

    if is_armored(data):
        data = dearmor(data)
    decryptor = StreamDecryptor(identity, max_size=max_size)
    parts = decryptor.feed(data)
    parts += decryptor.finish()
    assert decryptor.header is not None
    return decryptor.header, b"".join(parts)


# --- Bech32 key encodings (BIP 173, no length limit) ----------------------------------------

IDENTITY_HRP = "age-secret-key-"
RECIPIENT_HRP = "age"
_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: Iterable[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_BECH32_GEN):
            if (top >> i) & 1:
                checksum ^= gen
    return checksum


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _regroup(data: Iterable[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc, bits, out = 0, 0, []
    mask = (1 << to_bits) - 1
    for value in data:
        acc = acc << from_bits | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append(acc >> bits & mask)
        acc &= (1 << bits) - 1
    if pad and bits:
        out.append(acc << (to_bits - bits) & mask)
    elif not pad and (bits >= from_bits or acc & ((1 << bits) - 1)):
        raise UsageError("invalid padding in Bech32 key")
    return out


def _bech32_encode(hrp: str, payload: bytes) -> str:
    data = _regroup(payload, 8, 5, pad=True)
    check = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ 1
    data += [check >> 5 * (5 - i) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32_CHARSET[d] for d in data)


def _bech32_decode(text: str, hrp: str) -> bytes:
    if text != text.lower() and text != text.upper():
        raise UsageError("a Bech32 key must not mix upper and lower case")
    text = text.lower()
    sep = text.rfind("1")
    if sep < 1 or text[:sep] != hrp or len(text) - sep - 1 < 6:
        raise UsageError(f"not a key of type {hrp!r}")
    if any(c not in _BECH32_CHARSET for c in text[sep + 1:]):
        raise UsageError("invalid character in Bech32 key")
    data = [_BECH32_CHARSET.index(c) for c in text[sep + 1:]]
    if _polymod(_hrp_expand(hrp) + data) != 1:
        raise UsageError("the Bech32 checksum does not match (typo in the key?)")
    return bytes(_regroup(data[:-6], 5, 8, pad=False))


def _decode_key(text: str, hrp: str) -> bytes:
    key = _bech32_decode(text, hrp)
    if len(key) != crypto.X25519_LEN:
        raise UsageError("an X25519 key must be 32 bytes")
    return key


def encode_identity(secret: bytes) -> str:
    if len(secret) != crypto.X25519_LEN:
        raise UsageError("an X25519 identity must be 32 bytes")
    return _bech32_encode(IDENTITY_HRP, secret).upper()


def decode_identity(text: str) -> bytes:
    return _decode_key(text, IDENTITY_HRP)


def encode_recipient(public: bytes) -> str:
    if len(public) != crypto.X25519_LEN:
        raise UsageError("an X25519 recipient must be 32 bytes")
    return _bech32_encode(RECIPIENT_HRP, public)


def decode_recipient(text: str) -> bytes:
    return _decode_key(text, RECIPIENT_HRP)
