"""Reading record files for ``load``: JSON lines or CSV (I/O edge)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterator

from sneakersync.errors import InputError, NotFoundError

csv.field_size_limit(16 * 1024 * 1024)


def read_records(path: Path) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """Yield ``(id or None, data)``; an ``id`` key/column becomes the record id.

    CSV cells that hold a JSON array or object are decoded; other cells stay
    strings; empty cells are left out.
    """
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        yield from _jsonl(path)
    elif suffix == ".csv":
        yield from _csv(path)
    else:
        raise InputError(f"{path.name}: unknown file type (use .jsonl or .csv)")


def _split_id(obj: dict[str, Any], where: str) -> tuple[str | None, dict[str, Any]]:
    rid = obj.pop("id", None)
    if rid is not None and not isinstance(rid, (str, int)):
        raise InputError(f"{where}: 'id' must be a string")
    return (str(rid) if rid is not None and rid != "" else None), obj


def _jsonl(path: Path) -> Iterator[tuple[str | None, dict[str, Any]]]:
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path.name} line {n}"
            try:
                obj = json.loads(line)
            except (ValueError, UnicodeDecodeError) as exc:
                raise InputError(f"{where}: not valid JSON ({exc})") from exc
            except RecursionError as exc:
                raise InputError(f"{where}: JSON nested too deeply") from exc
            if not isinstance(obj, dict):
                raise InputError(f"{where}: each line must be a JSON object")
            yield _split_id(obj, where)


def _cell(value: str) -> Any:
    v = value.strip()
    if v[:1] in ("[", "{"):
        try:
            return json.loads(v)
        except (ValueError, RecursionError):
            return value
    return value


def _csv(path: Path) -> Iterator[tuple[str | None, dict[str, Any]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header or any(not h.strip() for h in header):
                raise InputError(f"{path.name}: the first line must name every column")
            if len(set(header)) != len(header):
                raise InputError(f"{path.name}: column names must be unique")
            for row in reader:
                where = f"{path.name} line {reader.line_num}"
                if not row:
                    continue
                if len(row) != len(header):
                    raise InputError(f"{where}: expected {len(header)} cells, found {len(row)}")
                obj = {h: _cell(v) for h, v in zip(header, row) if v != ""}
                yield _split_id(obj, where)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path.name}: not UTF-8 text") from exc
    except csv.Error as exc:
        raise InputError(f"{path.name}: malformed CSV ({exc})") from exc
