"""Proving that a JSON text is canonical without re-encoding it (sans-I/O).

The canonical form is defined in ``formats/README.md`` section 3.  Re-encoding
the parsed value and comparing bytes decides it exactly, but costs as much as
the parse.  :class:`CanonicalReader` instead checks, during and after the one
parse it needs anyway, the few ways a valid JSON text can differ from the
canonical encoding of the value it denotes:

- objects: each object's keys come in strictly ascending code point order
  (checked on each object as it is parsed; a duplicate key would collapse, so the
  members written, counted as the ``:`` outside strings, must equal the members
  parsed);
- numbers: a non-integer token must be exactly ``repr()`` of its double (checked on
  each token as it is parsed; this also refuses ``1e400``), ``NaN`` and infinities are
  refused, and an integer token is canonical unless it is ``-0``;
- strings: the text comes from strict UTF-8 decoding (the caller's part), and the
  only escapes accepted are the short ones the canonical form writes (``\\"``,
  ``\\\\``, ``\\b \\f \\n \\r \\t``): ``\\/``, ``\\u00e9`` and surrogate escapes are refused;
- white space: none outside strings.

The member count, ``-0`` and white space are checked on the text outside strings
(once the escapes are checked and dropped, every ``"`` opens or closes a string),
built with one split: cheaper than re-encoding.

The reader is *sound*: what it accepts is canonical.  It is deliberately not
complete: a text with a ``\\u`` escape (canonical only for the rare control
characters without a short form) is left unproven, and so is every text that is not
canonical.  Callers fall back to the exact re-encoding check for those
(:class:`NotProven`), which then decides and words the error.
``tests/test_canonical_check.py`` checks both directions against re-encoding.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

# an integer token -0 (canonical: 0); -0.5, -0e1 and 1e-05 are floats, checked on their own
_NEG_ZERO_INT = re.compile(r"(?<![eE])-0(?![.eE0-9])")
_SHORT_ESCAPES = ('\\"', "\\b", "\\f", "\\n", "\\r", "\\t")


class NotProven(Exception):
    """The text is not canonical JSON, or not in a form this check proves: decide it by
    re-encoding."""


class _NotCanonical(Exception):
    """Raised inside the parse to stop at the first non-canonical token or object."""


def _float(token: str) -> float:
    value = float(token)
    if repr(value) != token:  # also 1e400 (inf) and 1E2, 1.50, 1e5 ...
        raise _NotCanonical
    return value


def _constant(token: str) -> Any:
    raise _NotCanonical


class CanonicalReader:
    """Parses JSON texts one at a time and proves each canonical.

    :meth:`read` keeps a count between the parse and the check, so one reader serves
    one thread (make one per batch of texts; making one costs a few microseconds).
    """

    read: Callable[[str], tuple[Any, str]]

    def __init__(self) -> None:
        members = 0  # object members parsed in the current text

        def on_object(obj: dict[str, Any]) -> dict[str, Any]:
            nonlocal members
            n = len(obj)
            if n > 1 and [*obj] != sorted(obj):
                raise _NotCanonical
            members += n
            return obj

        scan = json.JSONDecoder(object_hook=on_object, parse_float=_float,
                                parse_constant=_constant).raw_decode

        def read(text: str) -> tuple[Any, str]:
            """``(value, structure)`` when ``text`` is canonical JSON; raises
            :class:`NotProven` otherwise (not canonical, not JSON, or a form left to
            re-encoding).  ``text`` must come from strict UTF-8 decoding (so it holds no
            lone surrogate).  ``structure`` is the text outside strings (ASCII: numbers,
            ``true false null`` and punctuation), for cheap exact checks of numbers and
            nesting."""
            nonlocal members
            members = 0
            try:
                value, end = scan(text)
            except (ValueError, RecursionError, _NotCanonical):
                raise NotProven from None
            if end != len(text):
                raise NotProven
            structure = _structure(text)
            if structure is None or structure.count(":") != members:
                raise NotProven  # (fewer members parsed than written: a key repeats)
            return value, structure

        self.read = read


def _structure(text: str) -> str | None:
    """The text outside strings of parsed JSON, if it has only the canonical short
    escapes, no white space and no integer ``-0``; else None."""
    if "\\" in text:
        # drop escaped backslashes first (left to right, as a parser pairs them); then
        # every backslash left starts an escape, and only the short ones are proven
        rest = text.replace("\\\\", "")
        if rest.count("\\") != sum(rest.count(e) for e in _SHORT_ESCAPES):
            return None
        rest = rest.replace('\\"', "")
    else:
        rest = text
    # the text parsed, so after the escapes above every " opens or closes a string
    structure = "".join(rest.split('"')[0::2])
    if " " in structure or "\t" in structure or "\r" in structure or "\n" in structure:
        return None
    if "-0" in structure and _NEG_ZERO_INT.search(structure):
        return None
    return structure
