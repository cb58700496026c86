"""The library's own error types: what went wrong, named for the person who can fix it.

Every error a user can cause — a bad file, a bad argument, a checkpoint that does not fit —
is a :class:`QvitError` whose message names the file, field or argument and what was
expected. The command line catches exactly these in one place and prints ``error: …``;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "QvitError",
    "DataError",
    "ConfigError",
    "CheckpointError",
    "RecordError",
    "TrainingDiverged",
    "TrainingInterrupted",
]


class QvitError(Exception):
    """Base class of the errors a user can cause and fix."""


class DataError(QvitError, ValueError):
    """A data file or location that cannot be used, with the reason and the path."""


class ConfigError(QvitError, ValueError):
    """An invalid argument: a variant, protocol, hyper-parameter, seed or output path."""


class CheckpointError(QvitError, ValueError):
    """A checkpoint or weights file that is missing, unreadable or of another model."""


class RecordError(CheckpointError):
    """A run's record or weights that are damaged, edited or of another run: names the file and the field."""


class TrainingDiverged(QvitError, RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training was stopped by Ctrl-C; the message says which checkpoint was kept.

    A :class:`KeyboardInterrupt`, so that code which stops on Ctrl-C still stops.
    """
