"""Errors raised by the student side, rooted in the project's base error."""

from __future__ import annotations

from dualchecker.errors import DualCheckerError


class StudentError(DualCheckerError):
    """The student could not be built, trained or asked for predictions."""


class StudentTimeoutError(StudentError):
    """A remote student call did not finish within its timeout (the work was cancelled)."""
