"""Identity cards as static QR codes: write a PNG, draw in a terminal, read a photo.

Cards are ASCII in the QR alphanumeric set (``SNK1:`` + upper-case base32), so
they are written in alphanumeric mode with error correction level M: about
version 7 for a typical card, easy to photograph off a screen or paper.
Writing uses segno; reading uses ``sneakersync.media.qr.decode_image`` (zxing-cpp)
and falls back to zxing-cpp directly.  All imported lazily.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sneakersync.errors import CardError, MediaError, NotFoundError, missing_extra
from sneakersync.wire.identity import CARD_PREFIX, decode_card


def _qr(card_text: str) -> Any:
    try:
        import segno
    except ImportError as exc:
        raise missing_extra("qr", "segno") from exc
    return segno.make_qr(card_text, error="m", mode="alphanumeric", boost_error=False)


def write_png(card_text: str, path: Path, *, scale: int = 8) -> None:
    """Write the card's QR code as a PNG (temp name, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    _qr(card_text).save(str(tmp), kind="png", scale=scale, border=4)
    tmp.replace(path)


def terminal_text(card_text: str, *, border: int = 2) -> str:
    """The QR code drawn with Unicode half blocks, two modules per character cell.

    Light modules are drawn (for the usual light-on-dark terminal), dark ones are
    blank, which gives dark modules on a light quiet zone, as scanners expect.
    """
    rows = [[bool(v) for v in row] for row in _qr(card_text).matrix]
    n = len(rows)
    blank = [False] * (n + 2 * border)
    grid = [blank] * border + [[False] * border + r + [False] * border for r in rows] \
        + [blank] * (border + 1)  # +1 so the last pair of rows is complete
    chars = {(False, False): "\u2588", (False, True): "\u2580", (True, False): "\u2584",
             (True, True): " "}
    lines = []
    for y in range(0, n + 2 * border, 2):
        top, bottom = grid[y], grid[y + 1]
        lines.append("".join(chars[(t, b)] for t, b in zip(top, bottom)))
    return "\n".join(lines)


def _decode(image: Any) -> list[bytes]:
    try:
        from sneakersync.media.qr import decode_image
    except ImportError:
        decode_image = None
    if decode_image is not None:
        try:
            return list(decode_image(image))
        except ImportError:
            pass
    try:
        import zxingcpp
    except ImportError as exc:
        raise missing_extra("qr", "zxingcpp") from exc
    if isinstance(image, (str, Path)):
        try:
            from PIL import Image
        except ImportError as exc:
            raise missing_extra("qr", "PIL") from exc
        with Image.open(image) as im:
            results = zxingcpp.read_barcodes(im.convert("L"))
    else:
        results = zxingcpp.read_barcodes(image)
    return [bytes(r.bytes) for r in results]


def _card_among(payloads: list[bytes]) -> str | None:
    for raw in payloads:
        try:
            text = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            continue
        if text.upper().startswith(CARD_PREFIX):
            decode_card(text)  # raises CardError naming what is wrong
            return text
    return None


def read_card_image(path: Path) -> str:
    """The identity card in a photo or screenshot of its QR code."""
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"file {path} does not exist")
    card = _card_among(_decode(str(path)))
    if card is None:
        raise CardError(f"no identity card QR code found in {path}",
                        hints=("hold the code flat and fill most of the picture with it",))
    return card


def read_card_camera(index: int = 0, *, timeout: float = 60.0) -> str:  # pragma: no cover
    """Read a card from camera ``index`` (OpenCV); needs real hardware, untested here."""
    try:
        import cv2
    except ImportError as exc:
        raise missing_extra("qr", "cv2") from exc
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise MediaError(f"cannot open camera {index}", hints=("try another --camera N",))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok, frame = cap.read()
            if not ok:
                continue
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            card = _card_among(_decode(gray))
            if card is not None:
                return card
    finally:
        cap.release()
    raise CardError(f"no identity card seen by camera {index} within {timeout:.0f} s")
