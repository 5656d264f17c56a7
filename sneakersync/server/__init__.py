"""The destination server: ingest sticks, issue receipts, serve uploads, export to Eden.

Submodules (imported on demand; only ``app`` and ``client`` need the ``[server]`` extra):

- ``store``: the :class:`ServerStore` interface and its SQLite implementation;
- ``ingest``: verify, deduplicate and store packets; issue receipts;
- ``export``: JSON lines, CSV, S3JSON, S3XML and Eden FileSync drop folders;
- ``app``: the HTTP upload endpoint and the dashboard (Starlette);
- ``client``: ``push`` from a device over HTTP (httpx).
"""

from __future__ import annotations
