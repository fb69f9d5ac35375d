"""A rejected input record: kept in the case with where it was, why, and a preview of what it held."""

from __future__ import annotations

from dataclasses import dataclass

PREVIEW_BYTES = 64


@dataclass(frozen=True)
class Reject:
    """An input record that could not be decoded: where it was, why, and what it held."""

    offset: int  # byte offset, or 1-based line number for text inputs
    reason: str
    raw: bytes = b""
    length: int | None = None  # bytes the record spanned, when more than `raw` holds

    def preview(self) -> str:
        """Hex of the first bytes of the raw record."""
        return self.raw[:PREVIEW_BYTES].hex(" ")
