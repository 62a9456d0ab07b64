"""Spreadsheet safety shared by every sheet the toolkit writes or reads (screening, duplicates)."""
from __future__ import annotations

# A cell starting with one of these may run as a formula (or a DDE payload) in Excel/LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(text: str) -> bool:
    """Would a spreadsheet treat this text as a formula (or a DDE payload)?"""
    return text.startswith(FORMULA_START)


def neutralise_csv(text: str) -> str:
    """Prefix an apostrophe so a spreadsheet shows the text instead of running it."""
    return "'" + text if is_formula_like(text) else text


def unneutralise_csv(text: str) -> str:
    return text[1:] if text.startswith("'") and is_formula_like(text[1:]) else text
