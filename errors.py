"""swk's one exception hierarchy: every error names the file and where in it, and ends with what to do."""

from __future__ import annotations

import os


class SwkError(Exception):
    """Base of every error swk reports to a user as one line."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def one_line(self) -> str:
        """The message plus its remedy, on one line."""
        text = str(self).replace("\n", " ")
        return f"{text} ({self.hint})" if self.hint else text


class InputError(SwkError):
    """A problem at a place in an input file: `path @0x00000300: ...` or `path:12: ...`."""

    def __init__(self, path: str | os.PathLike[str], offset: int | None, message: str, *, line: bool = False,
                 hint: str | None = None) -> None:  # fmt: skip
        self.path = os.fspath(path)
        self.offset = offset
        if offset is None:
            where = self.path
        elif line:
            where = f"{self.path}:{offset}"
        else:
            where = f"{self.path} @0x{offset:08x}"
        super().__init__(f"{where}: {message}", hint=hint)
        self._made = (self.path, offset, message, line, hint)

    def __reduce__(self) -> tuple[object, ...]:
        """Rebuilt from what it was made of, so it crosses from a worker process (the default pickling calls the
        class with the formatted message alone, which fails)."""
        return _rebuild, (type(self), *self._made)


def _rebuild(cls: type[InputError], path: str, offset: int | None, message: str, line: bool,
             hint: str | None) -> InputError:  # fmt: skip
    return cls(path, offset, message, line=line, hint=hint)


class WrongFormat(InputError):
    """The input is not in the format asked for (raised before any record is accepted)."""

    hint = "check the file, or pass --format to pick another reader"


class CaseError(SwkError):
    """A case that cannot be read or written."""

    hint = "pass a .parquet case written by `swk ingest` or `swk simulate`, or a directory of them"
