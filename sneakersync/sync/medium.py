"""The transport interface the sync layer speaks: a dead drop of packet and receipt files.

Sync code never opens a medium itself; a transport (``sneakersync.media.drive``) hands it an
object with these methods.  Names are the content hash of the file, as ``formats/drive-layout-v1.md``
says; ``read`` returns only bytes that verified against that name.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Iterator, Protocol


class DeadDrop(Protocol):
    def packets(self) -> Iterator[PurePath]: ...

    def receipts(self) -> Iterator[PurePath]: ...

    def read(self, path: PurePath) -> bytes: ...

    def write_packet(self, data: bytes) -> PurePath: ...

    def write_receipt(self, data: bytes) -> PurePath: ...

    def remove(self, path: PurePath) -> None: ...

    def clean_tmp(self, older_than_s: float = 3600.0) -> int: ...
