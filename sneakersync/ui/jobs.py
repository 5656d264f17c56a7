"""Long exchanges (a stick export or import) run in a thread; the page polls their progress."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Callable, Iterator

from sneakersync.errors import SneakersyncError
from sneakersync.ui.session import Session

MAX_JOBS = 8


@dataclass
class Job:
    what: str
    done: int = 0
    total: int = 0
    line: str = "starting…"
    finished: bool = False
    ok: bool = False
    report: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"what": self.what, "done": self.done, "total": self.total, "line": self.line,
                "finished": self.finished, "ok": self.ok, "report": self.report}


class CountingDrop:
    """A dead drop that reports each packet looked at or written (wraps the real one)."""

    def __init__(self, drop: Any, job: Job) -> None:
        self.drop = drop
        self.job = job

    def packets(self) -> Iterator[PurePath]:
        paths = list(self.drop.packets())
        self.job.total = len(paths)
        for i, p in enumerate(paths, 1):
            self.job.done = i
            self.job.line = f"reading packet {i} of {len(paths)}"
            yield p

    def write_packet(self, data: bytes) -> PurePath:
        self.job.done += 1
        self.job.total = max(self.job.total, self.job.done)
        self.job.line = f"writing packet {self.job.done}"
        return PurePath(self.drop.write_packet(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.drop, name)


def start(s: Session, what: str, work: Callable[[Job], list[str]]) -> str:
    """Run ``work(job)`` in a thread; it returns the report's sentences."""
    job = Job(what)
    jid = secrets.token_urlsafe(8)
    s.jobs[jid] = job
    while len(s.jobs) > MAX_JOBS:
        s.jobs.pop(next(iter(s.jobs)))

    def run() -> None:
        try:
            job.report = work(job)
            job.ok = True
            job.line = "done"
        except SneakersyncError as err:
            job.report = [str(err), *err.hints]
            job.line = "failed"
        except Exception as exc:  # noqa: BLE001 - shown to the person, never a silent hang
            job.report = [f"unexpected error: {exc!r}"]
            job.line = "failed"
        finally:
            job.finished = True

    threading.Thread(target=run, daemon=True, name=f"ui-job-{what}").start()
    return jid
