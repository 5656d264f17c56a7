"""Safety numbers: what two people compare to authenticate each other's devices (sans-I/O).

Both devices compute the same 60 digits from the two identity cards' public
keys, shown as 12 groups of 5 digits.  If an attacker swapped a key in either
card on its way (a forged QR, an edited file), the numbers differ on the two
screens.

Derivation (version 1):

    K_x   = sign_pub_x || enc_pub_x                  (64 bytes per card)
    lo,hi = K_a, K_b sorted as byte strings           (so both sides agree)
    h_0   = SHA-512("sneakersync safety number v1" || 0x00 || lo || hi)
    h_i   = SHA-512(h_{i-1} || lo || hi)              for i = 1 .. ITERATIONS-1
    digits: for j in 0..11, u40(h[5j : 5j+5]) mod 100000, zero-padded to 5

12 groups of log2(10^5) bits give 199 bits compared in full (>= 112 as asked);
comparing the first 6 groups still gives 99.  The iteration (5200 rounds of
SHA-512, as Signal does) makes searching for a key pair whose number matches
on a *prefix* that people actually compare cost more per attempt.
"""

from __future__ import annotations

import hashlib

from sneakersync.errors import UsageError
from sneakersync.wire.identity import Card

VERSION = 1
ITERATIONS = 5200
GROUPS = 12
GROUP_DIGITS = 5
_DOMAIN = b"sneakersync safety number v1\x00"


def _key_blob(card: Card) -> bytes:
    return bytes(card.sign_public) + bytes(card.enc_public)


def safety_digest(a: Card, b: Card, *, iterations: int = ITERATIONS) -> bytes:
    """The 64-byte iterated hash behind the number; symmetric in ``a`` and ``b``."""
    if iterations < 1:
        raise UsageError("iterations must be at least 1")
    lo, hi = sorted((_key_blob(a), _key_blob(b)))
    if lo == hi:
        raise UsageError("a safety number needs two different devices")
    keys = lo + hi
    h = hashlib.sha512(_DOMAIN + keys).digest()
    for _ in range(iterations - 1):
        h = hashlib.sha512(h + keys).digest()
    return h


def safety_number(a: Card, b: Card) -> str:
    """60 digits, the same on both devices (no separators)."""
    h = safety_digest(a, b)
    return "".join(f"{int.from_bytes(h[5 * j:5 * j + 5], 'big') % 100_000:05d}"
                   for j in range(GROUPS))


def groups(number: str) -> list[str]:
    return [number[i:i + GROUP_DIGITS] for i in range(0, len(number), GROUP_DIGITS)]


def format_number(number: str, per_line: int = 4) -> str:
    """Lines of groups, e.g. three lines of four groups of five digits."""
    gs = groups(number)
    return "\n".join(" ".join(gs[i:i + per_line]) for i in range(0, len(gs), per_line))


def normalise_typed(text: str) -> str:
    """Digits of a number someone typed or read out (spaces, dashes, newlines dropped)."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(text.strip()) and not digits:
        raise UsageError("a safety number is made of digits")
    return digits


def matches(number: str, typed: str) -> bool:
    """True when ``typed`` is the whole number (any spacing)."""
    return normalise_typed(typed) == number
