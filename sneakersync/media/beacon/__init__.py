"""Bluetooth LE beacon transport: advertise and scan through bumble (or bleak).

``radio`` drives a Bluetooth controller through bumble (imported lazily), ``discovery``
joins it to the sans-I/O payload codec in ``sneakersync.wire.beacon``.  May import
``wire``, ``store``, ``sync`` and ``errors``.  Importing this package does not import bumble.
"""
