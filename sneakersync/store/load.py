"""Reading record files for ``load``: JSON lines or CSV (I/O edge).

What ``rows`` writes (``{"id": ..., "data": {...}}`` per line) reads back unchanged.
CSV files are sniffed for their delimiter (``,`` ``;`` tab ``|``) unless one is given;
text is UTF-8 unless ``encoding`` says otherwise, and a decoding error names its line.
Records without an id get one from ``key`` columns (or from their content, with
``content_key``), so loading the same file twice changes nothing; without either,
each load makes new records and :func:`plan` says so in its ``warnings``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from sneakersync.errors import InputError, NotFoundError, UsageError
from sneakersync.wire import canonical

csv.field_size_limit(16 * 1024 * 1024)

MAX_DEPTH = 64  # nesting of objects and arrays in one record
DELIMITERS = ",;\t|"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")

Item = tuple["str | None", dict[str, Any]]


@dataclass
class LoadOptions:
    key: tuple[str, ...] = ()
    content_key: bool = False
    encoding: str | None = None
    delimiter: str | None = None

    def check(self) -> None:
        if self.key and self.content_key:
            raise UsageError("give --key COLUMN or --content-key, not both")
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise UsageError(f"unknown encoding {self.encoding!r}",
                                 hints=("e.g. --encoding latin-1, cp1252, utf-16",)) from None
        if self.delimiter is not None:
            if self.delimiter in ("\\t", "tab", "TAB"):
                self.delimiter = "\t"
            if len(self.delimiter) != 1 or self.delimiter in "\"\r\n":
                raise UsageError("--delimiter must be one character (, ; tab |)")


@dataclass
class Plan:
    """What a load will read: its records (a generator), an estimate, and warnings."""

    items: Iterator[Item]
    total: int
    warnings: list[str] = field(default_factory=list)
    keyed: bool = True


def _check_value(obj: Any, where: str) -> None:
    """Depth bound and no lone surrogates (they cannot be stored as UTF-8)."""
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (dict, list)):
            if depth >= MAX_DEPTH:
                raise InputError(f"{where}: nested deeper than {MAX_DEPTH} levels")
            if isinstance(v, dict):
                for k, x in v.items():
                    _check_text(k, where)
                    stack.append((x, depth + 1))
            else:
                stack.extend((x, depth + 1) for x in v)
        elif isinstance(v, str):
            _check_text(v, where)


def _check_text(s: str, where: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{where}: text holds a lone surrogate (\\ud800-\\udfff), "
                         "which is not valid Unicode") from None


def parse_record(text: str | bytes, where: str) -> Any:
    """Strict JSON of one record: bounded depth, valid Unicode only."""
    try:
        obj = canonical.loads(text)
    except RecursionError:
        raise InputError(f"{where}: nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: not valid JSON ({exc})") from None
    if isinstance(text, str):
        _check_text(text, where)
        raw = text.encode("utf-8")
    else:
        raw = text
    # the full walk only where it can find something (keeps a 100k-line load fast)
    if _SURROGATE_ESCAPE.search(raw) or raw.count(b"[") + raw.count(b"{") >= MAX_DEPTH:
        _check_value(obj, where)
    return obj


def plan(path: Path, opts: LoadOptions | None = None) -> Plan:
    """Open ``path`` and describe the load; records are read lazily from ``items``."""
    opts = opts or LoadOptions()
    opts.check()
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"file {path} does not exist")
    if not path.is_file():
        raise UsageError(f"{path} is not a file")
    suffix = path.suffix.lower()
    total = _count_lines(path)
    if suffix in (".jsonl", ".ndjson"):
        p = Plan(_jsonl(path, opts), total)
    elif suffix in (".csv", ".tsv", ".txt"):
        p = _csv(path, opts, total)
    else:
        raise InputError(f"{path.name}: unknown file type (use .jsonl or .csv)")
    return p


def read_records(path: Path, opts: LoadOptions | None = None) -> Iterator[Item]:
    yield from plan(path, opts).items


def _count_lines(path: Path) -> int:
    n = 0
    last = b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def _keyed(obj: dict[str, Any], rid: Any, opts: LoadOptions, where: str) -> Item:
    if rid is not None and (not isinstance(rid, (str, int)) or isinstance(rid, bool)):
        raise InputError(f"{where}: 'id' must be a string")
    if rid is not None and rid != "":
        return str(rid), obj
    if opts.key:
        missing = [k for k in opts.key if obj.get(k) in (None, "")]
        if missing:
            raise InputError(f"{where}: key column {missing[0]!r} is empty or missing")
        parts = [obj[k] if isinstance(obj[k], str) else canonical.dumps(obj[k])
                 for k in opts.key]
        return "|".join(parts), obj
    if opts.content_key:
        digest = hashlib.sha256(canonical.dumps(obj).encode("utf-8")).hexdigest()
        return "c-" + digest[:24], obj
    return None, obj


def _jsonl(path: Path, opts: LoadOptions) -> Iterator[Item]:
    enc = opts.encoding
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path.name} line {n}"
            if enc is not None and enc.replace("-", "").lower() not in ("utf8", "utf8sig"):
                try:
                    text: str | bytes = line.decode(enc)
                except UnicodeDecodeError as exc:
                    raise _decode_error(path, n, exc, enc) from None
            else:
                text = line[3:] if n == 1 and line.startswith(codecs.BOM_UTF8) else line
                try:
                    text = bytes(text).decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise _decode_error(path, n, exc, "utf-8") from None
            obj = parse_record(text, where)
            if not isinstance(obj, dict):
                raise InputError(f"{where}: each line must be a JSON object")
            rid = obj.pop("id", None)
            # the shape `rows` writes: {"id": ..., "data": {...}} and nothing else
            if rid is not None and set(obj) == {"data"} and isinstance(obj["data"], dict):
                obj = obj["data"]
            yield _keyed(obj, rid, opts, where)


def _decode_error(path: Path, line: int, exc: UnicodeDecodeError, enc: str) -> InputError:
    hints = ["give the file's encoding, e.g. --encoding latin-1 (or cp1252, utf-16)"]
    if enc.lower().replace("_", "-") not in ("utf-8", "utf8", "utf-8-sig"):
        hints = ["check the file's encoding; --encoding names it"]
    shown = "UTF-8" if enc.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig") else enc
    byte = f"byte 0x{exc.object[exc.start]:02x} at column {exc.start + 1}"
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        text = f"not valid JSON (not {shown} text: {byte})"
    else:
        text = f"not {shown} text ({byte})"
    return InputError(f"{path.name} line {line}: {text}", hints=hints)


def _first_bad_line(path: Path, enc: str) -> tuple[int, UnicodeDecodeError] | None:
    dec = codecs.getincrementaldecoder(enc)()
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            try:
                dec.decode(line)
            except UnicodeDecodeError as exc:
                return n, exc
    return None


def _cell(value: str, where: str) -> Any:
    v = value.strip()
    if v[:1] in ("[", "{"):
        try:
            obj = json.loads(v)
        except (ValueError, RecursionError):
            return value
        _check_value(obj, where)
        return obj
    return value


def _sniff(sample: str, path: Path) -> str:
    first = sample.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        pass
    counts = {d: first.count(d) for d in DELIMITERS}
    used = [d for d, k in counts.items() if k]
    if len(used) > 1:
        shown = " ".join(repr(d) for d in used)
        raise InputError(f"{path.name}: cannot tell which delimiter separates the columns "
                         f"(the header holds {shown})",
                         hints=("name it: --delimiter ';' (or ',', tab, '|')",))
    return used[0] if used else ","


def _csv(path: Path, opts: LoadOptions, total: int) -> Plan:
    enc = opts.encoding or "utf-8-sig"
    try:
        with open(path, newline="", encoding=enc) as fh:
            sample = fh.read(64 * 1024)
    except UnicodeDecodeError:
        bad = _first_bad_line(path, enc)
        if bad is None:
            raise InputError(f"{path.name}: not {enc} text") from None
        raise _decode_error(path, bad[0], bad[1], enc) from None
    except UnicodeError as exc:
        raise InputError(f"{path.name}: not {enc} text ({exc})") from None
    delim = opts.delimiter or _sniff(sample, path)
    header = next(csv.reader([sample.split("\n", 1)[0]], delimiter=delim), [])
    header = [h.strip() for h in header]
    if not header or any(not h for h in header):
        raise InputError(f"{path.name}: the first line must name every column")
    if len(set(header)) != len(header):
        raise InputError(f"{path.name}: column names must be unique")
    odd = [h for h in header if any(d in h for d in DELIMITERS if d != delim)]
    if odd and opts.delimiter is None:
        raise InputError(f"{path.name}: column {odd[0][:40]!r} holds another delimiter than "
                         f"{delim!r}: cannot tell how the columns are separated",
                         hints=("name it: --delimiter ';' (or ',', tab, '|')",))
    for k in opts.key:
        if k not in header:
            raise UsageError(f"--key {k!r} is not a column of {path.name}",
                             hints=(f"columns: {', '.join(header[:12])}",))
    warnings = []
    keyed = "id" in header or bool(opts.key) or opts.content_key
    if not keyed:
        warnings.append(f"{path.name} has no 'id' column: every load makes new records, so "
                        "loading it again duplicates them; give --key COLUMN (a column that "
                        "identifies a row) or --content-key")
    return Plan(_csv_rows(path, opts, enc, delim, header), max(total - 1, 0), warnings, keyed)


def _csv_rows(path: Path, opts: LoadOptions, enc: str, delim: str,
              header: list[str]) -> Iterator[Item]:
    try:
        with open(path, newline="", encoding=enc) as fh:
            reader = csv.reader(fh, delimiter=delim)
            next(reader, None)
            for row in reader:
                where = f"{path.name} line {reader.line_num}"
                if not row:
                    continue
                if len(row) != len(header):
                    raise InputError(f"{where}: expected {len(header)} cells, found {len(row)}")
                obj = {h: _cell(v, where) for h, v in zip(header, row) if v != ""}
                rid = obj.pop("id", None)
                yield _keyed(obj, rid, opts, where)
    except UnicodeDecodeError:
        bad = _first_bad_line(path, enc)
        line, exc = bad if bad is not None else (0, None)
        if exc is None:
            raise InputError(f"{path.name}: not {enc} text") from None
        raise _decode_error(path, line, exc, enc) from None
    except csv.Error as exc:
        raise InputError(f"{path.name}: malformed CSV ({exc})") from None


def only_changed(store: Any, collection: str, items: Iterator[Item],
                 on_skip: Callable[[int], None] | None = None) -> Iterator[Item]:
    """Drop records whose id already holds exactly this data (a repeated load is a no-op)."""
    batch: list[Item] = []

    def flush() -> Iterator[Item]:
        ids = [rid for rid, _ in batch if rid is not None]
        current: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            current.update(store.conn.execute(
                f"SELECT rid, data FROM records WHERE collection=? AND deleted=0 AND rid IN "
                f"({marks})", (collection, *chunk)).fetchall())
        skipped = 0
        for rid, data in batch:
            if rid is not None and rid in current and \
                    current[rid] == canonical.dumps(data):
                skipped += 1
                continue
            yield rid, data
        if skipped and on_skip:
            on_skip(skipped)

    for it in items:
        batch.append(it)
        if len(batch) >= 2000:
            yield from flush()
            batch = []
    if batch:
        yield from flush()
