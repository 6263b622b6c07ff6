"""Exit codes and the exceptions that carry them.

Every error a user can cause is a `KfaiError`: its message states what failed and on
which value, and `hint` names what to do next. The CLI prints both on one line each
and exits with `exit_code`; anything else is a bug and exits with `ExitCode.BUG`.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    BUG = 1
    USAGE = 2
    DOES_NOT_FIT = 3
    NOT_FOUND = 4
    CLUSTER_UNAVAILABLE = 5
    FORBIDDEN = 6
    NEEDS_CONFIRMATION = 7
    JOB_FAILED = 8
    # Not in the DESIGN table: `jobs wait --timeout` ran out, as timeout(1) reports it.
    TIMED_OUT = 124
    INTERRUPTED = 130


class KfaiError(Exception):
    """An error the user can act on."""

    exit_code: ExitCode = ExitCode.BUG
    kind: str = "error"

    def __init__(self, message: str, hint: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def to_dict(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "status": "error",
            "error": self.kind,
            "message": self.message,
            "exit_code": int(self.exit_code),
        }
        if self.hint:
            payload["hint"] = self.hint
        payload.update(self.details)
        return payload


class UsageError(KfaiError):
    exit_code = ExitCode.USAGE
    kind = "invalid_input"


class UnknownNameError(UsageError):
    """A model, dataset or option value that matches nothing; carries suggestions."""

    kind = "unknown_name"

    def __init__(self, what: str, value: str, suggestions: list[str], hint: str | None = None):
        message = f"unknown {what} '{value}'"
        if suggestions:
            message += f"; did you mean {', '.join(repr(s) for s in suggestions)}?"
        super().__init__(message, hint, value=value, suggestions=suggestions)
        self.value = value
        self.suggestions = suggestions


class DoesNotFitError(KfaiError):
    exit_code = ExitCode.DOES_NOT_FIT
    kind = "does_not_fit"


class NotFoundError(KfaiError):
    exit_code = ExitCode.NOT_FOUND
    kind = "not_found"


class ClusterUnavailableError(KfaiError):
    exit_code = ExitCode.CLUSTER_UNAVAILABLE
    kind = "cluster_unavailable"


class ForbiddenError(KfaiError):
    exit_code = ExitCode.FORBIDDEN
    kind = "forbidden"


class NeedsConfirmationError(KfaiError):
    exit_code = ExitCode.NEEDS_CONFIRMATION
    kind = "needs_confirmation"


class JobFailedError(KfaiError):
    exit_code = ExitCode.JOB_FAILED
    kind = "job_failed"


class TimedOutError(KfaiError):
    exit_code = ExitCode.TIMED_OUT
    kind = "timed_out"
