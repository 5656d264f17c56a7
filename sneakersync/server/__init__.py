"""The destination server: ingest sticks, issue receipts, serve uploads, export to Eden.

May import every layer below it (``wire``, ``store``, ``sync``, ``media``); never ``cli`` or
``demo``.  Submodules are imported on demand; only ``app`` needs the ``[server]`` extra,
only ``pg`` the ``[postgres]`` one:

- ``store``: the :class:`ServerStore` interface, its SQLite implementation, the schema;
- ``ingest``: verify, deduplicate and store packets; issue receipts;
- ``export``: JSON lines, CSV, S3JSON, S3XML and Eden FileSync drop folders;
- ``setup``: tell a device which server is its destination;
- ``backends``: which store a server uses (SQLite, or PostgreSQL through ``pg``), backup;
- ``pg``: the PostgreSQL backend (psycopg 3, a pool, SQL translated from the one
  SQLite-dialect definition, advisory locks instead of a process lock);
- ``app``: the HTTP upload endpoint and the dashboard (Starlette).
"""
