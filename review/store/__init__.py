"""The SQLite store: the only package with SQL.

``Store`` is the core (connection, migrations, transactions, records, runs) plus one mixin
per pipeline step that keeps something (dedupe, classify, screening, claims, extraction and full texts), so each step's
SQL sits beside the others' but in its own file. Schema: ``review/store/schema.py``.
"""
from __future__ import annotations

from review.store.claims import ClaimsStore
from review.store.classify import ClassifyStore
from review.store.core import DEFAULT_DB, RUN_COLUMNS, StoreCore, Upserted, missing_store_message, utcnow
from review.store.dedupe import DedupeStore
from review.store.extraction import ExtractionStore
from review.store.prisma import PrismaStore
from review.store.schema import MIGRATIONS, SCHEMA_VERSION
from review.store.screening import ScreeningStore


class Store(DedupeStore, ClassifyStore, ScreeningStore, ClaimsStore, PrismaStore, ExtractionStore, StoreCore):
    """A connection to one review store (see the mixins for each step's tables)."""


__all__ = ["DEFAULT_DB", "MIGRATIONS", "RUN_COLUMNS", "SCHEMA_VERSION", "Store", "Upserted", "missing_store_message",
           "utcnow"]
