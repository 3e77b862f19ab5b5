"""Exit codes and the usage error shared by every ``tiktok-live`` subcommand."""

from __future__ import annotations

from typing import Final

from tiktok_live import errors
from tiktok_live.errors import UsageError  # the command line's mistakes: printed with the usage line, exit 2

__all__ = [
    "EXIT_CONNECTION",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_SIGN",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "EXIT_USER",
    "UsageError",
    "exit_code",
]

EXIT_OK: Final = 0
"""Success: the stream ended, or the recording was replayed."""
EXIT_USAGE: Final = 2
"""A usage error, or an unreadable recording."""
EXIT_USER: Final = 3
"""The user was not found, is offline, or the room is age-restricted."""
EXIT_SIGN: Final = 4
"""The sign server failed, including rate limits and a rejected API key."""
EXIT_CONNECTION: Final = 5
"""Blocked by TikTok, a connection failure, or an export that lost records."""
EXIT_OUTPUT: Final = 6
"""The output could not be written: stdout, or the recording (a full disk, an I/O error)."""
EXIT_INTERRUPTED: Final = 130
"""Ctrl-C (SIGINT): the command stopped cleanly, after its summary and export report."""
EXIT_TERMINATED: Final = 143
"""SIGTERM (docker stop, systemd): handled as Ctrl-C; 128 + 15, the code a shell reports for it."""


def exit_code(error: BaseException) -> int:
    """The exit code for a failure raised by a command (3 user, 4 sign server, 6 recording not written, 2 bad
    recording, else 5)."""
    if isinstance(error, errors.UserNotFoundError | errors.UserOfflineError | errors.AgeRestrictedError):
        return EXIT_USER
    if isinstance(error, errors.SignAPIError):
        return EXIT_SIGN
    from tiktok_live.recording import RecordingError, RecordingWriteError

    if isinstance(error, RecordingWriteError):
        return EXIT_OUTPUT
    if isinstance(error, RecordingError):
        return EXIT_USAGE
    return EXIT_CONNECTION
