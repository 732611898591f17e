"""Typed exceptions. Library code raises these; only the CLI turns them into exit codes.

Every message says what was expected, what was found, and where (file:line for data,
the option name for arguments).
"""

from __future__ import annotations


class InitbenchError(Exception):
    """Base class of every error initbench raises on purpose."""

    exit_code = 2


class UsageError(InitbenchError):
    """An argument or option is unusable (CLI exit code 2)."""


class DataFormatError(InitbenchError):
    """Input data does not follow the expected format; the message names file and line."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


class CheckpointError(InitbenchError):
    """A checkpoint does not match the model it is loaded into."""


class WeightsMissingError(InitbenchError):
    """A pretrained file is missing or corrupt and cannot be fetched (offline)."""


class DivergenceError(InitbenchError):
    """Training produced a non-finite loss; the message names the step, the loss and what to try.

    Exit code 2, as for a usage error: the remedy is a different option (a lower ``--set lr``,
    ``--amp off``), not a fix of the data.
    """


class InvalidDataError(InitbenchError):
    """The release copy has annotation errors and the caller did not ask to skip them.

    Exit code 1, as ``verify-dataset`` gives for the same findings; ``findings`` holds them all
    (:class:`~initbench.dataset.findings.Finding`) so a command can show them.
    """

    exit_code = 1

    def __init__(self, message: str, findings: list):
        super().__init__(message)
        self.findings = list(findings)
