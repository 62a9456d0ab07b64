"""Options and error handling shared by every subcommand."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from review.errors import ReviewError
from review.store import DEFAULT_DB

DB_HELP = f"SQLite store to use (created if missing). Default: {DEFAULT_DB}"


def db_option(fn):
    return click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
                        show_default=True, help=DB_HELP)(fn)


def reports_errors(fn):
    """Turn ReviewError into a clear message and exit status 1; Ctrl-C into status 130."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ReviewError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted: everything committed so far is kept; run the same command to resume.",
                       err=True)
            sys.exit(130)
    return wrapper


