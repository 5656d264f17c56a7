"""sneakersync: sync field records between devices with no network at all."""

from __future__ import annotations

__version__ = "0.1.0"
