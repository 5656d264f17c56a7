"""age's ASCII armor (PEM-like), strict, for files an administrator made with ``age -a``.

Rules (see ``formats/age-profile.md``): optional white space (space, tab, CR, LF)
around the whole file; a first line ``-----BEGIN AGE ENCRYPTED FILE-----`` and a
last line ``-----END AGE ENCRYPTED FILE-----``; lines end in LF or CRLF; between
them, standard base64 with padding in lines of exactly 64 characters except the
last, which has 1 to 64; no empty lines, no headers, no other characters; the
encoding must be canonical.  Anything else is an :class:`ArmorError`.
"""

from __future__ import annotations

import base64
import binascii

from sneakersync.errors import ArmorError

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
COLUMNS = 64
_WHITESPACE = b" \t\r\n"


def is_armored(data: bytes) -> bool:
    return data.lstrip(_WHITESPACE).startswith(BEGIN)


def dearmor(data: bytes) -> bytes:
    text = data.strip(_WHITESPACE)
    lines = text.split(b"\n")
    lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]
    if len(lines) < 2 or lines[0] != BEGIN:
        raise ArmorError("armor does not start with the BEGIN line")
    if lines[-1] != END:
        raise ArmorError("armor does not end with the END line")
    body = lines[1:-1]
    for i, line in enumerate(body):
        last = i == len(body) - 1
        if not line or len(line) > COLUMNS or (not last and len(line) != COLUMNS):
            raise ArmorError(f"armor line {i + 2} has the wrong length")
    joined = b"".join(body)
    if len(joined) % 4:
        raise ArmorError("armor base64 is not padded")
    try:
        raw = base64.b64decode(joined, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ArmorError("armor holds characters outside base64") from exc
    if base64.b64encode(raw) != joined:
        raise ArmorError("armor base64 is not canonical")
    return raw


def armor(raw: bytes) -> bytes:
    enc = base64.b64encode(raw)
    lines = [enc[i:i + COLUMNS] for i in range(0, len(enc), COLUMNS)]
    return b"\n".join([BEGIN, *lines, END]) + b"\n"
