"""One base error for the project, with specific subclasses callers can catch."""

from __future__ import annotations


class DualCheckerError(Exception):
    """Base class of every error DualChecker raises on purpose."""


class ConfigError(DualCheckerError):
    """A configuration file or object is invalid."""


class DataError(DualCheckerError):
    """A data file or row is invalid; the message names the file, the row and the field."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ):
        where = ", ".join(
            p
            for p in (
                f"file {source}" if source else "",
                f"row {row}" if row is not None else "",
                f"field '{field}'" if field else "",
            )
            if p
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.source, self.row, self.field = source, row, field


class BackendError(DualCheckerError):
    """An LLM backend could not be built or did not answer."""


class AnswerParseError(DualCheckerError):
    """A teacher reply could not be turned into a valid answer (kept and recorded, never fatal)."""
