"""One decoded change: what an origin device wrote to one record (``formats/packet-v1.md``).

The body codec produces these; the store and the resolver consume them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Version:
    origin: str
    counter: int
    op: str  # "put" or "del"
    data: dict[str, Any] | None
    vv: dict[str, int]
    ts: int  # milliseconds, a hint used only for tie-breaks and display
    collection: str = ""
    rid: str = ""
    # canonical JSON of data, when the parser already produced it (not part of identity)
    data_json: str | None = field(default=None, compare=False, repr=False)
    vv_json: str | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, int]:
        return (self.origin, self.counter)

    @property
    def deleted(self) -> bool:
        return self.op == "del"
