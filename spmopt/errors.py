"""Domain errors. Every error a user can cause is a ``ValueError`` subclass with a one-line message."""

from __future__ import annotations


class SpmoptError(ValueError):
    """Base class of every error spmopt raises on purpose."""


class InputError(SpmoptError):
    """Bad input data. The message names the file, the row (as a spreadsheet shows it: header = row 1),
    the column and the offending value, so the user can go straight to the cell."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        self.source, self.row, self.column, self.value = source, row, column, value
        where = []
        if source:
            where.append(str(source))
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column '{column}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class InfeasibleError(SpmoptError):
    """The request cannot be met. ``family`` names the family of limits at fault (``balance``, ``capacity``,
    ``disruption``, ``locks``, ``assignment``…); ``suggestion`` is the smallest relaxation found that works."""

    def __init__(self, message: str, *, family: str | None = None, suggestion: dict | None = None) -> None:
        self.family = family
        self.suggestion = suggestion or {}
        super().__init__(message)


class SolverError(SpmoptError):
    """The solver stopped without a usable answer (for instance: time limit reached before any feasible
    alignment was found)."""


class AlignmentCheckError(SpmoptError):
    """An alignment failed the independent checker. ``violations`` lists every broken rule."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        shown = "; ".join(violations[:5]) + (f"; … ({len(violations) - 5} more)" if len(violations) > 5 else "")
        super().__init__(f"alignment check failed: {shown}")
