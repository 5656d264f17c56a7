"""The store layer: the device's SQLite store and home folder.

Records, the change log, version vectors and conflict resolution (``records``,
``resolve``), peers, revocations, the home folder and its keys, bulk loading and
durable file writes.  May import ``wire`` and ``errors``; never sync, media, cli.
"""
