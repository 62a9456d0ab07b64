"""Errors whose messages say what went wrong and what to do next."""
from __future__ import annotations


class ReviewError(Exception):
    """Base class: the CLI prints the message and exits with status 1."""


class ConfigError(ReviewError):
    """Missing or invalid settings (environment, strategy files)."""


class InputError(ReviewError):
    """A file given by the user is malformed; nothing was written."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = list(problems or [])
        full = message
        if self.problems:
            full += "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(full)


class FetchError(ReviewError):
    """A request to NCBI failed after its retries."""


class StoreError(ReviewError):
    """The store is missing, locked, or newer than this version of the toolkit."""
