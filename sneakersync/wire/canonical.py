"""Canonical JSON used wherever bytes are hashed or signed (sans-I/O).

Rules (also in ``formats/packet-v1.md``): UTF-8, object keys sorted by code
point, no insignificant whitespace, no NaN or infinities, non-ASCII characters
written as themselves.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any

from sneakersync.errors import UsageError

_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                            allow_nan=False)


def dumps(obj: Any) -> str:
    try:
        return _ENCODER.encode(obj)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"value cannot be stored as JSON: {exc}") from exc
    except RecursionError as exc:
        raise UsageError("value is nested too deeply to be stored as JSON") from exc


def dumps_text(obj: Any) -> str:
    """:func:`dumps`, and the result must be valid Unicode (no lone surrogates)."""
    out = dumps(obj)
    try:
        out.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError("text holds a lone surrogate (not valid Unicode)") from exc
    return out


def dumps_counts(counts: dict[str, int]) -> str:
    """Canonical JSON of a {str: int} map (a version vector), without the generic encoder."""
    return "{" + ",".join(f"{encode_basestring(k)}:{int(n)}" for k, n in sorted(counts.items())) \
        + "}"


def dumpb(obj: Any) -> bytes:
    return dumps(obj).encode("utf-8")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def loads(text: str | bytes) -> Any:
    """Strict JSON parse (rejects NaN/Infinity); raises ValueError."""
    return json.loads(text, parse_constant=_reject_constant)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def loads_strict(text: str | bytes) -> Any:
    """Like :func:`loads`, and duplicate object keys are an error."""
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)


def hex_problem(value: Any, n: int) -> str | None:
    """What keeps ``value`` from being exactly ``n`` bytes of canonical (lower-case) hex
    (formats/README.md section 2), as a phrase; None when it is.  Callers raise their own
    layer's error with it."""
    if not isinstance(value, str) or len(value) != 2 * n:
        return f"must be {n} bytes of lower-case hex"
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return "is not hex"
    if raw.hex() != value:
        return "is not lower-case hex"
    return None
