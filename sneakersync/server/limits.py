"""What one HTTP server process grants a network neighbour (``formats/server-http-v1.md``).

- **connections**: at most ``max_connections`` open, ``per_client_connections`` from one
  address; beyond that a new connection is closed at once;
- **headers**: the request line and headers must arrive within ``header_timeout``
  seconds of the connection (or of the previous response), else the connection is
  closed; their size is bounded by h11 (16 KiB);
- **body**: at most ``max_upload`` bytes; a pause longer than ``body_timeout`` seconds
  between two chunks ends the upload with 408; the body is spooled to a temporary file
  beyond ``spool_memory`` bytes, so uploads being received cost little memory;
- **uploads**: at most ``max_uploads`` received at once (``per_client_uploads`` per
  address), beyond that 503 at once; packets are opened ``max_processing`` at a time;
- **quota**: an enrolled device may deliver ``quota_bytes`` bytes of packets per
  ``quota_window`` seconds over HTTP (429 beyond); strangers are bounded by the held
  space (:mod:`sneakersync.server.enroll`).

Only :func:`protocol_class` imports uvicorn.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from sneakersync.errors import SneakersyncError


@dataclass(frozen=True)
class Limits:
    max_upload: int = 64 << 20
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 256
    per_client_connections: int = 32
    max_uploads: int = 4
    per_client_uploads: int = 2
    max_processing: int = 1
    spool_memory: int = 1 << 20
    quota_bytes: int = 1 << 30
    quota_window: float = 3600.0


class QuotaError(SneakersyncError):
    """An enrolled device delivered more than its quota over HTTP: try again later."""

    layer = "quota"


class Quota:
    """Bytes delivered per signing key in a sliding window (in this process)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._log: dict[bytes, deque[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def _used(self, key: bytes, now: float) -> int:
        log = self._log.get(key)
        if not log:
            return 0
        while log and log[0][0] <= now - self.window:
            log.popleft()
        return sum(n for _, n in log)

    def check(self, key: bytes, size: int) -> None:
        with self._lock:
            used = self._used(key, self.clock())
        if used + size > self.limit:
            raise QuotaError(f"this device delivered {used} bytes in the last "
                             f"{self.window:.0f} s; the quota is {self.limit}",
                             hints=("try again later, or deliver on a stick",))

    def add(self, key: bytes, size: int) -> None:
        with self._lock:
            now = self.clock()
            self._used(key, now)
            self._log.setdefault(key, deque()).append((now, size))


class Gauge:
    """Counts in flight, in total and per client address, with a ceiling for each."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total, self.per_client = total, per_client
        self.now = 0
        self.by_client: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, client: str) -> bool:
        with self._lock:
            mine = self.by_client.get(client, 0)
            if self.now >= self.total or mine >= self.per_client:
                return False
            self.now += 1
            self.by_client[client] = mine + 1
            return True

    def leave(self, client: str) -> None:
        with self._lock:
            self.now -= 1
            left = self.by_client.get(client, 1) - 1
            if left:
                self.by_client[client] = left
            else:
                self.by_client.pop(client, None)


def protocol_class(limits: Limits) -> Any:
    """uvicorn's h11 protocol with a connection ceiling and a header deadline."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    gauge = Gauge(limits.max_connections, limits.per_client_connections)

    class GuardedH11Protocol(H11Protocol):  # type: ignore[misc]
        _counted: str | None = None
        _deadline: Any = None
        _served: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            client = self.client[0] if self.client else ""
            if not gauge.enter(client):
                transport.abort()  # over the ceiling: no slot, no buffer, no answer
                return
            self._counted = client
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._counted is not None:
                gauge.leave(self._counted)
                self._counted = None
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and self.cycle is not self._served:
                self._served = self.cycle  # the headers of a new request are in
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request's headers have the same deadline

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(limits.header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()

    return GuardedH11Protocol


def uvicorn_options(limits: Limits) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` that enforce ``limits``."""
    return {"http": protocol_class(limits), "timeout_keep_alive": 5,
            "h11_max_incomplete_event_size": 16 << 10}


class Refusal(Exception):
    """Internal: an upload refused while its body was read (status, layer, text)."""

    def __init__(self, status: int, layer: str, error: str) -> None:
        super().__init__(error)
        self.status, self.layer, self.error = status, layer, error


async def receive_body(request: Any, limits: Limits) -> Any:
    """Read an upload's body into a spooled temporary file (memory up to
    ``spool_memory``, then disk), refusing it when it stalls or grows too large.
    Returns the file, positioned at 0; raises :class:`Refusal`."""
    import asyncio
    import tempfile

    spool = tempfile.SpooledTemporaryFile(max_size=limits.spool_memory)
    size = 0
    chunks = request.stream().__aiter__()
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(chunks.__anext__(), limits.body_timeout)
            except StopAsyncIteration:
                break
            except asyncio.TimeoutError:
                raise Refusal(408, "timeout", f"no data for {limits.body_timeout:.0f} s: "
                                              "the upload is abandoned") from None
            size += len(chunk)
            if size > limits.max_upload:
                raise Refusal(413, "size", f"packet larger than {limits.max_upload} bytes")
            spool.write(chunk)
        if size == 0:
            raise Refusal(400, "input", "empty body: send the packet bytes")
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def __getattr__(name: str) -> Any:
    """``sneakersync.server.limits:GuardedH11Protocol`` (default limits), importable by
    name, for uvicorn's worker processes (a class made in a function cannot be pickled)."""
    if name == "GuardedH11Protocol":
        cls = protocol_class(env_limits())
        globals()[name] = cls
        return cls
    raise AttributeError(name)


ENV_LIMITS = "SNEAKERSYNC_SERVE_LIMITS"  # `serve --workers N` hands its limits to the workers


def env_limits() -> Limits:
    """The limits ``serve`` put in the environment for its worker processes (else defaults)."""
    import json
    import os

    got = os.environ.get(ENV_LIMITS)
    return Limits(**json.loads(got)) if got else Limits()
