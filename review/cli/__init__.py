"""Command line: one thin subcommand per step, one module per step; ReviewError -> message, exit 1."""
from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="kratom-review")
def main() -> None:
    """Literature-review toolkit: search PubMed, import exports, deduplicate, screen, classify, report."""


@main.group()
def export() -> None:
    """Write tables and reference-manager files from the store (records, duplicates, ris, bibtex, csv)."""


# Subcommands register themselves on import; keep this list in pipeline order.
from review.cli import search as _search  # noqa: E402,F401
from review.cli import imports as _imports  # noqa: E402,F401
from review.cli import dedupe as _dedupe  # noqa: E402,F401
from review.cli import classify as _classify  # noqa: E402,F401
from review.cli import export_cmd as _export  # noqa: E402,F401
from review.cli import refresh as _refresh  # noqa: E402,F401
from review.cli import screen as _screen  # noqa: E402,F401
from review.cli import claims as _claims  # noqa: E402,F401
from review.cli import fulltext as _fulltext  # noqa: E402,F401
from review.cli import extract as _extract  # noqa: E402,F401
from review.cli import prisma as _prisma  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    main()
