"""QR decoders that return the *exact* bytes of byte-mode symbols.

* ``zxing`` (default): zxing-cpp, ``Barcode.bytes`` is exact.
* ``zbar``: libzbar through ctypes with ``ZBAR_CFG_BINARY`` on, so zbar does
  not guess a charset and re-encode to UTF-8.  Needs the system library
  (``apt-get install libzbar0``); the ``pyzbar`` package is not required.
* ``opencv``: ``cv2.QRCodeDetectorAruco``.  OpenCV re-encodes byte-mode
  content as UTF-8 of a Latin-1 reading; we reverse that.  Content that is
  not valid under that reading is dropped (never guessed): a last resort.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any, Protocol

from sneakersync.errors import MissingExtraError, UsageError, missing_extra


class Decoder(Protocol):
    name: str

    def decode(self, gray: Any) -> list[bytes]: ...


def _gray(image: Any) -> Any:
    import numpy as np

    arr = np.asarray(image)
    if arr.ndim == 3:
        import cv2

        code = cv2.COLOR_BGRA2GRAY if arr.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        arr = cv2.cvtColor(arr, code)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


class ZxingDecoder:
    name = "zxing"

    def __init__(self, *, thorough: bool = False) -> None:
        try:
            import zxingcpp
        except ImportError as exc:
            raise missing_extra("qr", "zxingcpp") from exc
        self._z = zxingcpp
        self._thorough = thorough

    def decode(self, gray: Any) -> list[bytes]:
        z = self._z
        t = self._thorough
        found = z.read_barcodes(_gray(gray), formats=z.QRCode, try_rotate=t, try_downscale=t,
                                try_invert=t, binarizer=z.Binarizer.LocalAverage)
        return [bytes(b.bytes) for b in found if b.valid]


# zbar.h: ZBAR_NONE = 0, ZBAR_QRCODE = 64; ZBAR_CFG_ENABLE = 0, ZBAR_CFG_BINARY = 4
_ZBAR_QRCODE = 64
_ZBAR_CFG_ENABLE = 0
_ZBAR_CFG_BINARY = 4
_Y800 = int.from_bytes(b"Y800", "little")


def _load_zbar() -> Any:
    name = ctypes.util.find_library("zbar")
    for cand in ([name] if name else []) + ["libzbar.so.0", "libzbar.dylib", "libzbar-0.dll"]:
        try:
            lib = ctypes.CDLL(cand)
            break
        except OSError:
            continue
    else:
        raise MissingExtraError(
            "the zbar decoder needs the system library libzbar, which is not installed",
            hints=("install it with: apt-get install libzbar0 (or brew install zbar)",),
        )
    vp, ui, i = ctypes.c_void_p, ctypes.c_uint, ctypes.c_int
    sigs: dict[str, tuple[Any, list[Any]]] = {
        "zbar_image_scanner_create": (vp, []),
        "zbar_image_scanner_destroy": (None, [vp]),
        "zbar_image_scanner_set_config": (i, [vp, i, i, i]),
        "zbar_image_create": (vp, []),
        "zbar_image_destroy": (None, [vp]),
        "zbar_image_set_format": (None, [vp, ctypes.c_ulong]),
        "zbar_image_set_size": (None, [vp, ui, ui]),
        "zbar_image_set_data": (None, [vp, vp, ctypes.c_ulong, vp]),
        "zbar_scan_image": (i, [vp, vp]),
        "zbar_image_first_symbol": (vp, [vp]),
        "zbar_symbol_next": (vp, [vp]),
        "zbar_symbol_get_type": (i, [vp]),
        "zbar_symbol_get_data": (vp, [vp]),
        "zbar_symbol_get_data_length": (ui, [vp]),
    }
    for fname, (res, args) in sigs.items():
        fn = getattr(lib, fname)
        fn.restype, fn.argtypes = res, args
    return lib


class ZbarDecoder:
    name = "zbar"

    def __init__(self) -> None:
        self._lib = _load_zbar()
        lib = self._lib
        self._scanner = lib.zbar_image_scanner_create()
        lib.zbar_image_scanner_set_config(self._scanner, 0, _ZBAR_CFG_ENABLE, 0)
        lib.zbar_image_scanner_set_config(self._scanner, _ZBAR_QRCODE, _ZBAR_CFG_ENABLE, 1)
        if lib.zbar_image_scanner_set_config(self._scanner, _ZBAR_QRCODE, _ZBAR_CFG_BINARY, 1):
            raise MissingExtraError("this libzbar has no binary mode (needs zbar >= 0.23)")

    def decode(self, gray: Any) -> list[bytes]:
        lib = self._lib
        arr = _gray(gray)
        h, w = arr.shape
        buf = arr.tobytes()
        img = lib.zbar_image_create()
        try:
            lib.zbar_image_set_format(img, _Y800)
            lib.zbar_image_set_size(img, w, h)
            lib.zbar_image_set_data(img, ctypes.c_char_p(buf), len(buf), None)
            out: list[bytes] = []
            if lib.zbar_scan_image(self._scanner, img) > 0:
                sym = lib.zbar_image_first_symbol(img)
                while sym:
                    if lib.zbar_symbol_get_type(sym) == _ZBAR_QRCODE:
                        n = lib.zbar_symbol_get_data_length(sym)
                        out.append(ctypes.string_at(lib.zbar_symbol_get_data(sym), n))
                    sym = lib.zbar_symbol_next(sym)
            return out
        finally:
            lib.zbar_image_destroy(img)

    def __del__(self) -> None:
        scanner = getattr(self, "_scanner", None)
        if scanner:
            self._lib.zbar_image_scanner_destroy(scanner)
            self._scanner = None


class OpenCVDecoder:
    name = "opencv"

    def __init__(self) -> None:
        try:
            import cv2
        except ImportError as exc:
            raise missing_extra("qr", "cv2") from exc
        factory = getattr(cv2, "QRCodeDetectorAruco", None) or cv2.QRCodeDetector
        self._det = factory()

    def decode(self, gray: Any) -> list[bytes]:
        ok, texts, _pts, _ = self._det.detectAndDecodeBytesMulti(_gray(gray))
        out = []
        for raw in texts if ok else ():
            if raw:
                recovered = recover_latin1(bytes(raw))
                if recovered is not None:
                    out.append(recovered)
        return out


def recover_latin1(data: bytes) -> bytes | None:
    """Undo a "Latin-1 read, UTF-8 written" transcoding; None if impossible."""
    try:
        return data.decode("utf-8").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return None


_FACTORIES: dict[str, Any] = {"zxing": ZxingDecoder, "zbar": ZbarDecoder, "opencv": OpenCVDecoder}
DECODERS = tuple(_FACTORIES)


def get_decoder(name: str = "auto") -> Decoder:
    """``auto`` = zxing, then zbar, then opencv: the first one that loads."""
    if name == "auto":
        for cand in DECODERS:
            try:
                return _FACTORIES[cand]()  # type: ignore[no-any-return]
            except MissingExtraError:
                continue
        raise missing_extra("qr", "zxingcpp")
    if name not in _FACTORIES:
        raise UsageError(f"unknown QR decoder {name!r}; choose auto, {', '.join(DECODERS)}")
    return _FACTORIES[name]()  # type: ignore[no-any-return]


def available_decoders() -> list[str]:
    names = []
    for name in DECODERS:
        try:
            get_decoder(name)
        except MissingExtraError:
            continue
        names.append(name)
    return names


def decode_image(image: Any, *, decoder: str = "zxing") -> list[bytes]:
    """Exact bytes of every QR code in a still image (path or array)."""
    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        import os

        import cv2

        from sneakersync.errors import FormatError, NotFoundError

        path = os.fsdecode(image)
        if not os.path.isfile(path):
            raise NotFoundError(f"image {path} does not exist")
        arr = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if arr is None:
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(path) as im:  # GIF and friends
                    import numpy as np

                    arr = np.asarray(im.convert("L"))
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                raise FormatError(f"{path} is not an image that can be read ({exc.__class__.__name__})",
                                  hints=("give a photo or screenshot (PNG, JPEG ...)",)) from None
        image = arr
    dec = ZxingDecoder(thorough=True) if decoder == "zxing" else get_decoder(decoder)
    return dec.decode(image)
