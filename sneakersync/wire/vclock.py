"""Version vectors (sans-I/O).

A version vector maps a device id to the number of that device's edits a
version has seen.  Comparing two vectors tells exactly whether one version
descends from the other or whether they are concurrent; wall clocks play no
part.
"""

from __future__ import annotations

from enum import Enum
from typing import Mapping

VV = dict[str, int]


class Order(str, Enum):
    EQUAL = "equal"
    BEFORE = "before"          # a < b: b descends from a
    AFTER = "after"            # a > b: a descends from b
    CONCURRENT = "concurrent"  # neither: a conflict


def compare(a: Mapping[str, int], b: Mapping[str, int]) -> Order:
    a_bigger = b_bigger = False
    for key in set(a) | set(b):
        x, y = a.get(key, 0), b.get(key, 0)
        if x > y:
            a_bigger = True
        elif y > x:
            b_bigger = True
        if a_bigger and b_bigger:
            return Order.CONCURRENT
    if a_bigger:
        return Order.AFTER
    if b_bigger:
        return Order.BEFORE
    return Order.EQUAL


def dominates(a: Mapping[str, int], b: Mapping[str, int]) -> bool:
    """True when ``a`` has seen everything ``b`` has (a >= b)."""
    return all(a.get(k, 0) >= v for k, v in b.items())


def merge(*vectors: Mapping[str, int]) -> VV:
    out: VV = {}
    for vec in vectors:
        for k, v in vec.items():
            if v > out.get(k, 0):
                out[k] = v
    return out


def advance(vec: Mapping[str, int], device: str, counter: int) -> VV:
    """The vector of a new edit by ``device`` whose change counter is ``counter``.

    The per-device entry is the origin's change counter, so it is strictly
    increasing per device and never reused.
    """
    out = dict(vec)
    out[device] = counter
    return dict(sorted(out.items()))
