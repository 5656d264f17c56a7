"""One error root for the whole kit.

Every failure that reaches a user is a :class:`SneakersyncError`. Each subclass
carries the exit code the CLI returns and the *layer* that failed; layer names
match the ``expect`` values of the test vectors in ``formats/``.  The CLI maps
these to exit codes in exactly one place (``sneakersync.cli``).

Exit codes:
    0  success
    1  generic failure (also: some packets of an import were rejected)
    2  usage error (bad arguments, bad JSON on the command line)
    3  not found (device, record, peer, file)
    4  store problem (locked, corrupt, schema too new)
    5  malformed or tampered input (a packet, card, frame, receipt ...)
    6  the medium failed (drive full, read-only, vanished)
    7  unresolved conflicts remain (reported, never fatal to other items)
    8  an optional extra is not installed
    9  the home is locked: its passphrase is missing or wrong
"""

from __future__ import annotations


class SneakersyncError(Exception):
    """Root of every error sneakersync raises on purpose."""

    exit_code: int = 1
    layer: str = "error"

    def __init__(self, message: str, *, hints: tuple[str, ...] | list[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hints: tuple[str, ...] = tuple(hints)

    def __str__(self) -> str:
        return self.message


class UsageError(SneakersyncError, ValueError):
    exit_code = 2
    layer = "usage"


class NotFoundError(SneakersyncError, LookupError):
    exit_code = 3
    layer = "not-found"


class DeviceMissingError(NotFoundError):
    layer = "device"


class AlreadyExistsError(SneakersyncError, FileExistsError):
    exit_code = 2
    layer = "exists"


class StoreError(SneakersyncError):
    exit_code = 4
    layer = "store"


class LockedError(SneakersyncError):
    """The home's keys are sealed and no (right) passphrase was given."""

    exit_code = 9
    layer = "locked"


class FormatError(SneakersyncError, ValueError):
    """Input bytes do not follow a format in ``formats/``."""

    exit_code = 5
    layer = "format"


# --- failures by layer, outermost first -------------------------------------------


class InputError(FormatError):
    """A file given on the command line (JSON lines, CSV) is malformed."""

    layer = "input"


class CardError(FormatError):
    layer = "card"


class HeaderError(FormatError):
    """The age header is malformed or non-canonical."""

    layer = "header"


class HmacError(FormatError):
    """The age header MAC does not verify."""

    layer = "hmac"


class NoMatchError(FormatError):
    """No recipient stanza opens with our key: the packet is for someone else."""

    layer = "no-match"


class PayloadError(FormatError):
    """The encrypted STREAM payload is truncated, reordered or tampered."""

    layer = "payload"


class ArmorError(FormatError):
    layer = "armor"


class AuthError(FormatError):
    """A signature does not verify, or the signer is not allowed."""

    layer = "auth"


class EnvelopeError(FormatError):
    """The signed inner envelope is malformed."""

    layer = "envelope"


class BodyError(FormatError):
    """The compressed body is malformed, too large, or its changes are invalid."""

    layer = "body"


class DriveError(FormatError):
    """A file or folder on a drive is not what the drive layout allows (a link, a device
    node, a FIFO, too large): refused without being followed or read."""

    layer = "drive"


class FrameError(FormatError):
    layer = "frame"


class BeaconError(FormatError):
    layer = "beacon"


class ReceiptError(FormatError):
    layer = "receipt"


class RevokedError(AuthError):
    layer = "revoked"


class UntrustedError(AuthError):
    """Signed correctly, but by a device that is not an accepted peer."""

    layer = "untrusted"


class MediaError(SneakersyncError, OSError):
    """The medium (drive, card, camera) failed under us."""

    exit_code = 6
    layer = "media"


class ConflictError(SneakersyncError):
    exit_code = 7
    layer = "conflict"


class MissingExtraError(SneakersyncError, ImportError):
    exit_code = 8
    layer = "extra"


def missing_extra(extra: str, module: str) -> MissingExtraError:
    """Error for an optional dependency that is not installed."""
    return MissingExtraError(
        f"this needs the optional module {module!r}, which is not installed",
        hints=(f"install it with: pip install 'sneakersync[{extra}]'",),
    )
