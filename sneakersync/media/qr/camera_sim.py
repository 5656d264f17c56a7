"""A synthetic camera filming a screen that plays a QR stream.

Models what a phone sees: a display showing frame j during [j/D, (j+1)/D)
(D = display fps), filmed at C fps with a rolling shutter (rows read out
over ``readout`` s, each row exposed for ``exposure`` s), so captures that
straddle a flip come out *torn* (top old, bottom new) and *blended*; then
perspective, brightness/contrast, blur, sensor noise, JPEG re-encoding, and
a share of captures dropped (a busy decoder or a hand in the way).
Deterministic for a given ``seed``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class CameraModel:
    display_fps: float = 10.0
    camera_fps: float = 29.97  # not a multiple of the display rate: phases drift
    size: tuple[int, int] = (1280, 720)
    readout: float = 0.015
    exposure: float = 0.008
    fill: float = 0.8  # code height as a share of the capture height
    perspective: float = 0.03  # corner jitter, share of the code size
    shake: float = 0.004  # per-capture extra jitter (hand shake)
    gain: float = 0.7
    offset: float = 30.0
    blur: float = 1.0  # Gaussian sigma, capture pixels
    noise: float = 4.0
    jpeg_quality: int = 75
    drop: float = 0.3
    seed: int = 0


class SyntheticCamera:
    def __init__(self, screens: Sequence[Any], model: CameraModel | None = None,
                 *, start_frame: int = 0) -> None:
        """``screens``: display images (uint8 gray, e.g. ``to_image(..., scale=4)``)."""
        import numpy as np

        self.m = model or CameraModel()
        self.screens = screens
        self.start = start_frame
        self.rng = np.random.default_rng(self.m.seed)
        h, w = screens[0].shape
        self._src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        W, H = self.m.size
        side = self.m.fill * H
        x0, y0 = (W - side) / 2, (H - side) / 2
        base = np.float32([[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side]])
        self._dst = base + self.rng.uniform(-1, 1, (4, 2)).astype(np.float32) * side * self.m.perspective
        self._side = side
        self._phase = float(self.rng.uniform(0, 1 / self.m.camera_fps))
        self.stats = {"captures": 0, "dropped": 0, "torn": 0}

    def _screen(self, t: float) -> int:
        return (self.start + int(t * self.m.display_fps)) % len(self.screens)

    def _compose(self, t: float) -> Any:
        """What the sensor integrates at capture time t (display space)."""
        import numpy as np

        m = self.m
        h = self.screens[0].shape[0]
        flip = (int(t * m.display_fps) + 1) / m.display_fps  # next flip after t
        end = t + m.readout + m.exposure
        old = self.screens[self._screen(t)]
        if end <= flip:
            return old
        self.stats["torn"] += 1
        new = self.screens[self._screen(flip)]
        rows = t + np.arange(h, dtype=np.float32) / h * m.readout  # row exposure start
        w_old = np.clip((flip - rows) / m.exposure, 0.0, 1.0)[:, None]
        return (old * w_old + new * (1.0 - w_old)).astype(np.uint8)

    def captures(self, n: int) -> Iterator[Any]:
        """Up to ``n`` camera frames (dropped ones are simply not delivered)."""
        import cv2
        import numpy as np

        m = self.m
        W, H = m.size
        for i in range(n):
            t = self._phase + i / m.camera_fps + self.rng.uniform(0, 1e-3)
            self.stats["captures"] += 1
            if self.rng.random() < m.drop:
                self.stats["dropped"] += 1
                continue
            scene = self._compose(t)
            dst = self._dst + self.rng.normal(0, self._side * m.shake, (4, 2)).astype(np.float32)
            M = cv2.getPerspectiveTransform(self._src, dst)
            img = cv2.warpPerspective(scene, M, (W, H), flags=cv2.INTER_AREA,
                                      borderValue=200)
            img = cv2.convertScaleAbs(img, alpha=m.gain, beta=m.offset)
            if m.blur > 0:
                img = cv2.GaussianBlur(img, (0, 0), m.blur)
            if m.noise > 0:
                noise = np.empty((H, W), np.int16)
                cv2.randn(noise, 0, m.noise)
                img = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
            if m.jpeg_quality:
                ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, m.jpeg_quality])
                img = cv2.imdecode(jpg, cv2.IMREAD_GRAYSCALE)
            yield img
