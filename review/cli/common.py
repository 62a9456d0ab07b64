"""Options and error handling shared by every subcommand."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from review.errors import ReviewError, StoreError
from review.store import DEFAULT_DB, missing_store_message

DB_HELP = "SQLite store to use (must exist)."
NEW_DB_HELP = "SQLite store to use (created if missing)."


def require_store(db: Path) -> None:
    """A command that reads or screens a store refuses one that does not exist (a typo in --db)."""
    if str(db) != ":memory:" and not Path(db).is_file():
        raise StoreError(missing_store_message(db))


def _must_exist(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    # A group's own --db is checked in its body, only when it runs without a subcommand.
    if not isinstance(ctx.command, click.Group) and not ctx.resilient_parsing:
        try:
            require_store(value)
        except StoreError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
    return value


def db_option(fn):
    """--db for commands that need an existing store (everything but search, import, refresh)."""
    return click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
                        show_default=True, help=DB_HELP, callback=_must_exist)(fn)


def new_db_option(fn):
    """--db for the commands that add records and so may create the store."""
    return click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
                        show_default=True, help=NEW_DB_HELP)(fn)


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


