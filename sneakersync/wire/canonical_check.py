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
built with one split: cheaper than re-encoding.  :meth:`CanonicalReader.read_lines`
parses many texts (a segment's change lines) as one JSON array, which lets records
share their key strings, once it has shown that each element is exactly one text.

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
from typing import Any, Callable, Sequence

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
    """Parses JSON texts and proves each canonical.

    A reader keeps a count between the parse and the check, so one reader serves one
    thread (make one per batch of texts; making one costs a few microseconds).
    """

    read: Callable[[str], tuple[Any, str]]
    read_lines: Callable[[Sequence[str]], list[tuple[Any, str] | None]]

    def __init__(self) -> None:
        members = 0  # object members parsed in the current text(s)
        ascending: set[tuple[str, ...]] = set()  # key sequences found in order already

        def on_object(obj: dict[str, Any]) -> dict[str, Any]:
            nonlocal members
            n = len(obj)
            if n > 1:
                keys = tuple(obj)
                if keys not in ascending:
                    if list(keys) != sorted(keys):
                        raise _NotCanonical
                    if len(ascending) < 256:  # the records of a collection share a few
                        ascending.add(keys)
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
            structure = _outside(text)
            if (structure is None or not _lexical(text, structure)
                    or structure.count(":") != members):
                raise NotProven  # (fewer members parsed than written: a key repeats)
            return value, structure

        def read_lines(texts: Sequence[str]) -> list[tuple[Any, str] | None]:
            """:func:`read` of each text (None where it raises), in one parse of them
            all as a JSON array when that can be bound to the texts: the array is the
            whole joined text, and every text's quotes pair up and its brackets balance,
            so each joining comma is at the array's own level and each element is
            exactly one text.  Keys repeated
            across texts then share one string, which saves memory and time."""
            nonlocal members
            members = 0
            whole = "[" + ",".join(texts) + "]"
            try:
                values, end = scan(whole)
            except (ValueError, RecursionError, _NotCanonical):
                values, end = None, 0
            # the array must be the whole text: a line may not close it early and carry
            # text after its change (``{...}],[2``)
            whole_parsed = end == len(whole)
            del whole
            structures = []
            if whole_parsed and type(values) is list and len(values) == len(texts):
                colons = 0
                for text in texts:
                    structure = _outside(text)
                    if (structure is None or structure.count("{") != structure.count("}")
                            or structure.count("[") != structure.count("]")):
                        break
                    colons += structure.count(":")
                    structures.append(structure)
                # members parsed never exceed the members written, object by object
                if len(structures) == len(texts) and colons == members:
                    return [(value, structure) if _lexical(text, structure) else None
                            for value, text, structure in zip(values, texts, structures)]
            out: list[tuple[Any, str] | None] = []
            for text in texts:
                try:
                    out.append(read(text))
                except NotProven:
                    out.append(None)
            return out

        self.read = read
        self.read_lines = read_lines


def _outside(text: str) -> str | None:
    """The text outside strings of ``text`` (numbers, literals, punctuation and any
    white space there), or None when its quotes do not pair up."""
    # drop escaped backslashes first (left to right, as a parser pairs them), then
    # escaped quotes: every " left opens or closes a string
    rest = text.replace("\\\\", "").replace('\\"', "") if "\\" in text else text
    parts = rest.split('"')
    if not len(parts) & 1:
        return None
    return "".join(parts[0::2])


def _lexical(text: str, structure: str) -> bool:
    """Whether parsed JSON ``text`` with the text outside strings ``structure`` has only
    the canonical short escapes, no white space and no integer ``-0``."""
    if "\\" in text:
        # once escaped backslashes are dropped, every backslash starts an escape
        rest = text.replace("\\\\", "")
        if rest.count("\\") != sum(rest.count(e) for e in _SHORT_ESCAPES):
            return False
    if " " in structure or "\t" in structure or "\r" in structure or "\n" in structure:
        return False
    return "-0" not in structure or not _NEG_ZERO_INT.search(structure)
