"""Options and error handling shared by every subcommand."""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
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



class ProgressBar:
    """A tqdm bar on stderr, drawn only when stderr is a terminal unless forced on or off.

    Library steps take a ``progress(done, total)`` callback and know nothing of tqdm: ``done`` is
    the increment since the last call (0 to show the bar before the first piece of work). The bar
    is made on the first callback, when the total is known, and cleared when it is full, so the
    summary line printed next stands alone.
    """

    def __init__(self, desc: str, enabled: bool | None = None, unit: str = "rec"):
        self.desc, self.enabled, self.unit, self.bar = desc, enabled, unit, None
        self._n = 0  # counted here: a disabled tqdm does not count, so its n cannot say when work is done

    def __enter__(self) -> "ProgressBar":
        return self

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            if not total:
                return
            # disable=None: tqdm draws only when sys.stderr is a terminal (never in cron, CI, pipes or
            # notebook outputs); --progress / --no-progress force it either way.
            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, file=sys.stderr, leave=False,
                            disable=None if self.enabled is None else not self.enabled)
        elif total != self.bar.total:
            self.bar.total = total
            self.bar.refresh()
        if done:
            self.bar.update(done)
        self._n += done
        if self._n >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self._n = None, 0

    def __exit__(self, *exc) -> None:
        self.close()


class StepBars:
    """One ProgressBar at a time for a command that runs several steps (`review refresh`)."""

    def __init__(self, enabled: bool | None):
        self.enabled, self.current = enabled, None

    def __call__(self, name: str) -> ProgressBar:
        self.close()
        unit = {"dedupe": "phase", "notebooks": "notebook"}.get(name, "id" if name.endswith(" esearch") else "rec")
        self.current = ProgressBar(name, self.enabled, unit=unit)
        return self.current

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None

    def __enter__(self) -> "StepBars":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_option(fn: Callable) -> Callable:
    """--progress/--no-progress; None (the default) means: a bar only when stderr is a terminal."""
    return click.option("--progress/--no-progress", default=None,
                        help="Progress bar on stderr (default: only when stderr is a terminal).")(fn)
