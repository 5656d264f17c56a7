"""A small mutation engine (no coverage feedback): bit flips, truncation, splicing,
insertion of interesting bytes, over a seed corpus.

``Mutator(seeds, rng).next()`` returns the next input.  The corpus grows with
inputs that produced a *new outcome* (a new error layer/message class), a cheap
stand-in for coverage that steers the engine past the first check of a parser.
"""

from __future__ import annotations

import random
import struct

INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x0A, 0x0D, 0x20, 0x22, 0x2C, 0x2D, 0x30, 0x3A, 0x3E,
                     0x5B, 0x5D, 0x7B, 0x7D, 0x7F, 0x80, 0xC0, 0xFE, 0xFF]
INTERESTING_CHUNKS = [
    b"\n", b"\r\n", b"-> ", b"---", b" ", b"\x00" * 4, b"\xff" * 4, b"\xff" * 8, b"=", b"==",
    b"\xc3\xa9", b"\xed\xa0\x80", b"\xf0\x9f\x92\xa9", b'"', b'""', b"{}", b"[]", b"null",
    b"true", b"-0", b"1e999", b"9007199254740993", b"-1", b"0", b"NaN", b'"\\u0000"',
    b'"\\ud800"', b"[" * 64, b"{" * 64, b"X25519", b"scrypt", b"age-encryption.org/v1\n",
    b"SNK1:", b"SNKENV1\n", b"\x28\xb5\x2f\xfd", b"\xa5\x53\x01", b".pkt", b".part",
    b"packets/", b"\x00", struct.pack(">I", 0xFFFFFFFF), struct.pack(">Q", 1 << 63),
    struct.pack(">Q", 1 << 31), struct.pack(">H", 0xFFFF),
]


class Mutator:
    def __init__(self, seeds: list[bytes], rng: random.Random, max_len: int = 1 << 20,
                 max_corpus: int = 512) -> None:
        self.seeds = [bytes(s) for s in seeds] or [b""]
        self.extra: list[bytes] = []
        self.rng = rng
        self.max_len = max_len
        self.max_corpus = max_corpus
        self.outcomes: set[str] = set()

    # --- corpus -------------------------------------------------------------------------

    def pick(self) -> bytes:
        pool = self.extra if self.extra and self.rng.random() < 0.3 else self.seeds
        return pool[self.rng.randrange(len(pool))]

    def note(self, data: bytes, outcome: str) -> None:
        """Keep ``data`` if it led to an outcome not seen before."""
        if outcome in self.outcomes:
            return
        self.outcomes.add(outcome)
        if len(self.extra) >= self.max_corpus:
            self.extra[self.rng.randrange(len(self.extra))] = data
        else:
            self.extra.append(data)

    # --- mutations ----------------------------------------------------------------------

    def next(self) -> bytes:
        data = bytearray(self.pick())
        r = self.rng
        for _ in range(1 + int(r.expovariate(0.8))):
            op = r.randrange(12)
            getattr(self, f"_m{op}")(data)
        return bytes(data[: self.max_len])

    def _pos(self, data: bytearray, extra: int = 0) -> int:
        return self.rng.randrange(len(data) + extra) if len(data) + extra > 0 else 0

    def _m0(self, d: bytearray) -> None:  # flip one bit
        if d:
            i = self._pos(d)
            d[i] ^= 1 << self.rng.randrange(8)

    def _m1(self, d: bytearray) -> None:  # set an interesting byte
        if d:
            d[self._pos(d)] = self.rng.choice(INTERESTING_BYTES)

    def _m2(self, d: bytearray) -> None:  # random byte
        if d:
            d[self._pos(d)] = self.rng.randrange(256)

    def _m3(self, d: bytearray) -> None:  # truncate
        if d:
            del d[self._pos(d):]

    def _m4(self, d: bytearray) -> None:  # delete a range
        if d:
            i = self._pos(d)
            del d[i:i + 1 + int(self.rng.expovariate(0.1))]

    def _m5(self, d: bytearray) -> None:  # insert an interesting chunk
        i = self._pos(d, 1)
        d[i:i] = self.rng.choice(INTERESTING_CHUNKS)

    def _m6(self, d: bytearray) -> None:  # duplicate a range
        if d:
            i = self._pos(d)
            j = min(len(d), i + 1 + int(self.rng.expovariate(0.02)))
            k = self._pos(d, 1)
            d[k:k] = d[i:j]

    def _m7(self, d: bytearray) -> None:  # splice with another corpus entry
        other = self.pick()
        if not other:
            return
        i = self._pos(d, 1)
        j = self.rng.randrange(len(other))
        if self.rng.random() < 0.5:
            d[i:] = other[j:]
        else:
            d[i:i] = other[j:j + 1 + int(self.rng.expovariate(0.01))]

    def _m8(self, d: bytearray) -> None:  # arithmetic on a byte
        if d:
            i = self._pos(d)
            d[i] = (d[i] + self.rng.randint(-16, 16)) & 0xFF

    def _m9(self, d: bytearray) -> None:  # overwrite with random bytes
        if d:
            i = self._pos(d)
            n = 1 + int(self.rng.expovariate(0.2))
            d[i:i + n] = self.rng.randbytes(n)

    def _m10(self, d: bytearray) -> None:  # replace an ASCII number by an extreme one
        if not d:
            return
        i = self._pos(d)
        while i < len(d) and not 0x30 <= d[i] <= 0x39:
            i += 1
        j = i
        while j < len(d) and 0x30 <= d[j] <= 0x39:
            j += 1
        if i < j:
            d[i:j] = self.rng.choice([b"0", b"-1", b"9007199254740992", b"1" * 40, b"00",
                                      b"18446744073709551616", b"1.5", b"1e3"])

    def _m11(self, d: bytearray) -> None:  # swap two ranges
        if len(d) > 2:
            i, j = sorted((self._pos(d), self._pos(d)))
            n = min(1 + int(self.rng.expovariate(0.05)), j - i, len(d) - j)
            if n > 0:
                d[i:i + n], d[j:j + n] = d[j:j + n], d[i:i + n]
