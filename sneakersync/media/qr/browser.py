"""Camera frames that a browser sends (JPEG or PNG bytes): the QR codes in them.

A web page cannot decode with zxing-cpp itself, so it posts still frames from
``getUserMedia`` to the local server.  Frames are bounded before they are decoded:
at most ``MAX_FRAME_BYTES`` and ``MAX_FRAME_PIXELS``, JPEG or PNG only.
"""

from __future__ import annotations

import io

from sneakersync.errors import FormatError, missing_extra
from sneakersync.media.qr.card import _card_among

MAX_FRAME_BYTES = 6 * 1024 * 1024
MAX_FRAME_PIXELS = 4096 * 4096
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def decode_frame_image(data: bytes) -> list[bytes]:
    """Exact bytes of every QR code in one encoded camera frame."""
    if len(data) > MAX_FRAME_BYTES:
        raise FormatError(f"camera frame is larger than {MAX_FRAME_BYTES} bytes")
    if not data.startswith(_MAGIC):
        raise FormatError("camera frame is not a JPEG or PNG image")
    try:
        import numpy as np
        from PIL import Image
    except ImportError as exc:
        raise missing_extra("qr", getattr(exc, "name", None) or "PIL") from exc
    from sneakersync.media.qr.decoders import ZxingDecoder

    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > MAX_FRAME_PIXELS or w < 16 or h < 16:
                raise FormatError(f"camera frame of {w}x{h} pixels is out of bounds")
            gray = np.asarray(im.convert("L"))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FormatError(f"camera frame cannot be read: {exc}") from exc
    return ZxingDecoder(thorough=True).decode(gray)


def card_in(payloads: list[bytes]) -> str | None:
    """The identity card among decoded payloads (checked), or None."""
    return _card_among(payloads)


def card_svg(card_text: str) -> bytes:
    """The card's QR code as an SVG image (dark on light, quiet zone included)."""
    from sneakersync.media.qr.card import _qr

    buf = io.BytesIO()
    _qr(card_text).save(buf, kind="svg", scale=6, border=4, xmldecl=False)
    return buf.getvalue()
