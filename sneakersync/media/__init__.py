"""The media layer: transports that carry packets between devices.

``drive`` (a folder on a stick), ``qr/`` (render, outputs, capture, decoders, receiver),
``beacon/`` (radio, discovery) and ``http`` (push to the server).  Heavy libraries are
imported lazily.  May import ``wire``, ``store``, ``sync`` and ``errors``.
"""
