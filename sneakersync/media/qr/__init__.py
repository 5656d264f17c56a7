"""Animated QR streams: opaque packet bytes from one screen to another device's camera.

The frame codec itself is ``sneakersync.wire.qr_frame``.  Cheap to import: heavy
modules (raptorq, zxing-cpp, OpenCV, numpy, Pillow, imageio) are imported inside the
functions that need them.

    send(packets, "out.html")                       # or .gif .mp4 DIR/ terminal window
    for got in receive("video:clip.mp4", state_dir=p): ...
"""

from __future__ import annotations

from sneakersync.media.qr.api import decode_image, encode_static, fingerprint, receive, send, write_static_png
from sneakersync.media.qr.receiver import Progress, Received

__all__ = ["send", "receive", "encode_static", "write_static_png", "decode_image",
           "fingerprint", "Progress", "Received"]
