"""Plan a QR stream: packets -> ordered frame bytes, and display timing."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sneakersync.errors import UsageError
from sneakersync.media.qr.fountain import encode_packet
from sneakersync.wire.qr_frame import DEFAULT_DENSITY, MAX_DENSITY, MIN_DENSITY, fingerprint, source_symbols, symbol_size_for_version

DEFAULT_FPS = 10.0
DEFAULT_REPAIR_RATIO = 1.0
MIN_REPAIR = 2


@dataclass(frozen=True)
class PacketInfo:
    index: int
    size: int
    k: int
    frames: int
    fingerprint: str


@dataclass
class StreamPlan:
    """Every frame of a send, in display order, with what to show beside it."""

    version: int
    symbol_size: int
    frames: list[bytes] = field(default_factory=list)
    packet_of: list[int] = field(default_factory=list)  # packet index per frame
    packets: list[PacketInfo] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "frames": len(self.frames),
            "version": self.version,
            "ecc": "L",
            "symbol_size": self.symbol_size,
            "packets": [
                {"index": p.index, "size": p.size, "k": p.k, "frames": p.frames,
                 "fingerprint": p.fingerprint}
                for p in self.packets
            ],
            "k": [p.k for p in self.packets],
            "fingerprints": [p.fingerprint for p in self.packets],
        }


def check_density(density: int) -> int:
    if not isinstance(density, int) or not MIN_DENSITY <= density <= MAX_DENSITY:
        raise UsageError(
            f"density must be a QR version from {MIN_DENSITY} to {MAX_DENSITY}, got {density!r}",
            hints=(f"the default, {DEFAULT_DENSITY}, reads well from a laptop screen",),
        )
    return density


def frames_per_pass(k: int, repair_ratio: float = DEFAULT_REPAIR_RATIO) -> int:
    return k + max(MIN_REPAIR, math.ceil(k * repair_ratio))


def plan_stream(packets: list[bytes], *, density: int = DEFAULT_DENSITY, loops: int = 1,
                repair_ratio: float = DEFAULT_REPAIR_RATIO) -> StreamPlan:
    """Frames for ``packets``, packet after packet, ``loops`` passes.

    Each pass of a packet shows K + max(2, ceil(K * repair_ratio)) frames,
    and later passes continue with new repair ESIs, so every frame of the
    plan is distinct: a looping player gives a late joiner fresh symbols.
    """
    version = check_density(density)
    if not packets:
        raise UsageError("nothing to send: no packets")
    if len(packets) > 0xFFFF:
        raise UsageError("at most 65535 packets per stream")
    loops = max(1, int(loops))
    t = symbol_size_for_version(version)
    plan = StreamPlan(version=version, symbol_size=t)
    per_packet: list[list[bytes]] = []
    for i, pkt in enumerate(packets):
        k = source_symbols(len(pkt), t) if pkt else 0
        n = frames_per_pass(k, repair_ratio)
        frames = encode_packet(bytes(pkt), t, n_frames=n * loops, index=i, count=len(packets))
        per_packet.append(frames)
        plan.packets.append(PacketInfo(i, len(pkt), k, n * loops, fingerprint(bytes(pkt))))
    for p in range(loops):
        for i, frames in enumerate(per_packet):
            n = len(frames) // loops
            chunk = frames[p * n:(p + 1) * n]
            plan.frames.extend(chunk)
            plan.packet_of.extend([i] * len(chunk))
    return plan


def frame_hold(fps: float, refresh_hz: float = 60.0) -> tuple[int, float]:
    """Whole display refreshes per frame, and the fps that actually gives."""
    if not fps or fps <= 0 or fps > refresh_hz:
        raise UsageError(f"fps must be in (0, {refresh_hz:g}], got {fps!r}")
    hold = max(1, round(refresh_hz / fps))
    return hold, refresh_hz / hold
