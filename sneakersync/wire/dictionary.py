"""Built-in zstd dictionaries (package data), by dictionary id.

Small packets are mostly structure (keys, field names) that a trained
dictionary already knows: ``records-v1`` roughly halves a three-record body,
which for a QR stream means fewer frames.  The file is specified in
``formats/dicts/`` (same bytes); readers that lack it refuse dictionary bodies.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

RECORDS_V1_ID = 0x534E4B01
_FILES = {RECORDS_V1_ID: "records-v1.zdict"}


@lru_cache(maxsize=None)
def builtin() -> dict[int, bytes]:
    out = {}
    for dict_id, name in _FILES.items():
        try:
            out[dict_id] = resources.files("sneakersync.wire.data").joinpath(name).read_bytes()
        except (FileNotFoundError, ModuleNotFoundError):
            continue
    return out


def default_id() -> int | None:
    return RECORDS_V1_ID if RECORDS_V1_ID in builtin() else None
