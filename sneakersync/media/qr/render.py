"""Frame bytes -> QR module matrix -> pixels.

Default encoder is zxing-cpp's writer (``create_barcode``), told explicitly
``eci=False`` (otherwise it prepends an ECI header to binary content, which
can push a full frame into the next version) and a pinned ``version``.  It was
the fastest encoder measured (see ``benchmarks/bench_qr.py``); segno (and
python-qrcode, if installed) are kept as alternatives for comparison.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sneakersync.errors import UsageError, missing_extra
from sneakersync.wire.qr_frame import QR_BYTE_CAPACITY_L

if TYPE_CHECKING:
    import numpy as np

QUIET_ZONE = 4
ENCODERS = ("zxing", "segno", "qrcode")


def _np() -> Any:
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover
        raise missing_extra("qr", "numpy") from exc
    return numpy


def smallest_version(n_bytes: int) -> int:
    for version, cap in QR_BYTE_CAPACITY_L.items():
        if n_bytes <= cap:
            return version
    raise UsageError(f"{n_bytes} bytes do not fit one QR code (max {QR_BYTE_CAPACITY_L[40]})")


def qr_matrix(data: bytes, version: int | None = None, *, encoder: str = "zxing",
              mask: int | None = None) -> np.ndarray:
    """Module matrix (bool, True = dark, no quiet zone) of a byte-mode ECC-L QR."""
    np = _np()
    data = bytes(data)
    if version is None:
        version = smallest_version(len(data))
    if len(data) > QR_BYTE_CAPACITY_L[version]:
        raise UsageError(f"{len(data)} bytes do not fit QR version {version} at ECC L")
    if encoder == "zxing":
        try:
            import zxingcpp
        except ImportError as exc:  # pragma: no cover
            raise missing_extra("qr", "zxingcpp") from exc
        kw: dict[str, Any] = {"ec_level": "L", "version": version, "eci": False}
        if mask is not None:
            kw["data_mask"] = mask
        bc = zxingcpp.create_barcode(data, zxingcpp.QRCode, **kw)
        img = np.asarray(zxingcpp.write_barcode_to_image(bc, scale=1, add_quiet_zones=False))
        m = img < 128
    elif encoder == "segno":
        try:
            import segno
        except ImportError as exc:  # pragma: no cover
            raise missing_extra("qr", "segno") from exc
        q = segno.make_qr(data, version=version, error="L", mode="byte", boost_error=False,
                          mask=mask)
        m = np.array(q.matrix, dtype=bool)
    elif encoder == "qrcode":
        try:
            import qrcode
        except ImportError as exc:
            raise missing_extra("qr", "qrcode") from exc
        q = qrcode.QRCode(version=version, error_correction=qrcode.constants.ERROR_CORRECT_L,
                          border=0, mask_pattern=mask)
        q.add_data(qrcode.util.QRData(data, mode=qrcode.util.MODE_8BIT_BYTE))
        q.make(fit=False)
        m = np.array(q.get_matrix(), dtype=bool)
    else:
        raise UsageError(f"unknown QR encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")
    side = 17 + 4 * version
    if m.shape != (side, side):  # the "pin the version" check: never trust kwargs blindly
        raise RuntimeError(f"{encoder} produced {m.shape[0]} modules, expected {side} (v{version})")
    return m


def module_scale(modules: int, width: int, height: int, quiet: int = QUIET_ZONE) -> int:
    """Largest whole number of pixels per module that fits the canvas."""
    return max(1, min(width, height) // (modules + 2 * quiet))


def to_image(matrix: np.ndarray, *, scale: int | None = None, width: int | None = None,
             height: int | None = None, quiet: int = QUIET_ZONE) -> np.ndarray:
    """Grayscale uint8 image: black modules on white, integer pixels per module.

    With ``width``/``height`` the code is centred on a white canvas of that
    size at the largest integer scale that fits; otherwise the image is the
    code plus quiet zone at ``scale`` (default 4) pixels per module.
    """
    np = _np()
    n = matrix.shape[0]
    if scale is None:
        scale = module_scale(n, width, height, quiet) if width and height else 4
    tile = np.where(matrix, np.uint8(0), np.uint8(255))
    tile = np.repeat(np.repeat(tile, scale, axis=0), scale, axis=1)
    side = (n + 2 * quiet) * scale
    w, h = (width or side), (height or side)
    if w < side or h < side:
        raise UsageError(f"canvas {w}x{h} is too small for a {side}px code")
    canvas = np.full((h, w), 255, dtype=np.uint8)
    y0 = (h - n * scale) // 2
    x0 = (w - n * scale) // 2
    canvas[y0:y0 + n * scale, x0:x0 + n * scale] = tile
    return canvas


def encode_static(payload: bytes, *, version: int | None = None, scale: int = 8) -> Any:
    """One static QR (PIL image, mode "L") for a small payload: acks, identity cards."""
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover
        raise missing_extra("qr", "PIL") from exc
    return Image.fromarray(to_image(qr_matrix(payload, version), scale=scale))


def write_static_png(payload: bytes, path: str, *, version: int | None = None,
                     scale: int = 8) -> None:
    from sneakersync.store.durable import atomic_write

    import io

    buf = io.BytesIO()
    encode_static(payload, version=version, scale=scale).save(buf, format="PNG")
    atomic_write(path, buf.getvalue())
