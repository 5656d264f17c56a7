"""Capture sources: camera, video file, image folder -> (grayscale image, seconds)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sneakersync.errors import MediaError, NotFoundError, UsageError, missing_extra

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp"}


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover
        raise missing_extra("qr", "cv2") from exc
    return cv2


def open_source(spec: str) -> Iterator[tuple[Any, float]]:
    """Open ``video:FILE``, ``frames:DIR`` or ``camera:N`` (also ``qr-`` prefixed)."""
    scheme, _, rest = spec.partition(":")
    scheme = scheme.removeprefix("qr-")
    if scheme == "video" and rest:
        return video_frames(rest)
    if scheme == "frames" and rest:
        return folder_frames(rest)
    if scheme == "camera":
        return camera_frames(int(rest or 0))
    raise UsageError(f"unknown QR source {spec!r}",
                     hints=("use video:FILE, frames:DIR or camera:N",))


def video_frames(path: str) -> Iterator[tuple[Any, float]]:
    """Frames of a video (MP4, GIF ...), timestamps from the file's fps."""
    if not Path(path).is_file():
        raise NotFoundError(f"no such video: {path}")
    return _video_iter(path)


def _video_iter(path: str) -> Iterator[tuple[Any, float]]:
    cv2 = _cv2()
    cap = cv2.VideoCapture(path)
    if cap.isOpened():
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        i = 0
        try:
            while True:
                ok, img = cap.read()
                if not ok:
                    break
                yield cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img, i / fps
                i += 1
        finally:
            cap.release()
        if i:
            return
    yield from _imageio_frames(path)  # e.g. GIFs on OpenCV builds without GIF support


def _imageio_frames(path: str) -> Iterator[tuple[Any, float]]:
    try:
        import imageio.v3 as iio
    except ImportError as exc:  # pragma: no cover
        raise missing_extra("qr", "imageio") from exc
    import numpy as np

    try:
        for i, img in enumerate(iio.imiter(path)):
            arr = np.asarray(img)
            if arr.ndim == 3:
                arr = arr[..., :3].mean(axis=2).astype(np.uint8)
            yield arr, i / 10.0
    except OSError as exc:
        raise MediaError(f"cannot read video {path}: {exc}") from exc


def folder_frames(folder: str) -> Iterator[tuple[Any, float]]:
    """Images of a folder in name order, 30 per second of nominal time."""
    d = Path(folder)
    if not d.is_dir():
        raise NotFoundError(f"no such folder: {folder}")
    return _folder_iter(d)


def _folder_iter(d: Path) -> Iterator[tuple[Any, float]]:
    cv2 = _cv2()
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    for i, p in enumerate(files):
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if img is not None:
            yield img, i / 30.0


def camera_frames(index: int) -> Iterator[tuple[Any, float]]:  # pragma: no cover - hardware
    """Live camera frames (wall-clock timestamps) until the caller stops."""
    cv2 = _cv2()
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise MediaError(f"cannot open camera {index}",
                         hints=("check the camera index and permissions",))
    cap.set(cv2.CAP_PROP_FRAME_WIDTH, 1920)
    cap.set(cv2.CAP_PROP_FRAME_HEIGHT, 1080)
    t0 = time.monotonic()
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                raise MediaError(f"camera {index} stopped delivering frames")
            yield cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), time.monotonic() - t0
    finally:
        cap.release()
