"""The wire layer: pure, sans-I/O codecs, one module per spec in ``formats/``.

Bytes and dataclasses in, bytes and dataclasses out; randomness and clocks are passed in.
May import only ``sneakersync.errors`` and other ``wire`` modules; never the store, sync,
media, server, cli or demo, and no I/O library (see ``tests/test_layering.py``).
"""
