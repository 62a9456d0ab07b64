"""Schema migrations: MIGRATIONS[i] takes a store from version i to i+1 (PRAGMA user_version)."""
from __future__ import annotations

MIGRATIONS: list[str] = [
    # 0 -> 1: records, runs (searches and imports), which run found which record.
    """
    CREATE TABLE records (
        record_id    INTEGER PRIMARY KEY,
        source       TEXT NOT NULL,
        source_id    TEXT NOT NULL,
        pmid         TEXT,
        doi          TEXT,
        title        TEXT,
        year         INTEGER,
        deleted      INTEGER NOT NULL DEFAULT 0,
        data         TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        first_seen   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        UNIQUE (source, source_id)
    );
    CREATE INDEX records_pmid ON records (pmid);
    CREATE INDEX records_doi ON records (doi);
    CREATE TABLE runs (
        run_id       TEXT PRIMARY KEY,
        kind         TEXT NOT NULL CHECK (kind IN ('search', 'import')),
        source       TEXT NOT NULL,
        source_type  TEXT NOT NULL DEFAULT 'database',
        strategy     TEXT,
        query        TEXT,
        translation  TEXT,
        limits       TEXT,
        file         TEXT,
        file_hash    TEXT,
        started_at   TEXT NOT NULL,
        finished_at  TEXT,
        status       TEXT NOT NULL,
        count        INTEGER,
        n_new        INTEGER,
        n_fetched    INTEGER NOT NULL DEFAULT 0,
        ids          TEXT,
        dropped      TEXT,
        missing      TEXT,
        archive      TEXT,
        notes        TEXT
    );
    CREATE INDEX runs_strategy ON runs (strategy, started_at);
    CREATE TABLE run_records (
        run_id    TEXT NOT NULL REFERENCES runs (run_id),
        record_id INTEGER NOT NULL REFERENCES records (record_id),
        PRIMARY KEY (run_id, record_id)
    ) WITHOUT ROWID;
    """,
    # 1 -> 2: normalised matching keys, deduplication (clusters, audit, pair decisions),
    # classification and overrides, screening history, report-to-study links, claim pins.
    """
    CREATE TABLE record_keys (
        record_id    INTEGER PRIMARY KEY REFERENCES records (record_id),
        content_hash TEXT NOT NULL,
        keys         TEXT NOT NULL
    );
    CREATE UNIQUE INDEX runs_import_file ON runs (source, file_hash) WHERE kind = 'import' AND status = 'complete';
    CREATE TABLE dedupe_runs (
        dedupe_id   INTEGER PRIMARY KEY,
        at          TEXT NOT NULL,
        n_records   INTEGER NOT NULL,
        n_clusters  INTEGER NOT NULL,
        n_exact     INTEGER NOT NULL,
        n_rule      INTEGER NOT NULL,
        n_uncertain INTEGER NOT NULL,
        seconds     REAL
    );
    CREATE TABLE clusters (
        cluster_id  INTEGER PRIMARY KEY,
        primary_id  INTEGER NOT NULL REFERENCES records (record_id),
        canonical   TEXT NOT NULL,
        dedupe_id   INTEGER REFERENCES dedupe_runs (dedupe_id),
        created_at  TEXT NOT NULL,
        undone_at   TEXT,
        undone_by   TEXT
    );
    CREATE TABLE cluster_members (
        cluster_id INTEGER NOT NULL REFERENCES clusters (cluster_id),
        record_id  INTEGER NOT NULL REFERENCES records (record_id),
        PRIMARY KEY (cluster_id, record_id)
    ) WITHOUT ROWID;
    CREATE INDEX cluster_members_record ON cluster_members (record_id);
    CREATE TABLE merges (
        merge_id   INTEGER PRIMARY KEY,
        cluster_id INTEGER NOT NULL REFERENCES clusters (cluster_id),
        record_a   INTEGER NOT NULL,
        record_b   INTEGER NOT NULL,
        rule       TEXT NOT NULL,
        scores     TEXT,
        decided_by TEXT NOT NULL DEFAULT 'auto'
    );
    CREATE TABLE uncertain_pairs (
        record_a   INTEGER NOT NULL,
        record_b   INTEGER NOT NULL,
        scores     TEXT,
        reason     TEXT,
        dedupe_id  INTEGER,
        PRIMARY KEY (record_a, record_b)
    ) WITHOUT ROWID;
    CREATE TABLE pair_decisions (
        record_a   INTEGER NOT NULL,
        record_b   INTEGER NOT NULL,
        decision   TEXT NOT NULL CHECK (decision IN ('duplicate', 'distinct')),
        decided_by TEXT NOT NULL,
        at         TEXT NOT NULL,
        note       TEXT,
        PRIMARY KEY (record_a, record_b, at)
    ) WITHOUT ROWID;
    CREATE TABLE classifications (
        record_id     INTEGER PRIMARY KEY REFERENCES records (record_id),
        design        TEXT NOT NULL,
        tier          TEXT NOT NULL,
        confidence    REAL NOT NULL,
        self_reported INTEGER NOT NULL,
        reasons       TEXT NOT NULL,
        content_hash  TEXT NOT NULL,
        version       TEXT NOT NULL,
        at            TEXT NOT NULL
    );
    CREATE TABLE design_overrides (
        override_id   INTEGER PRIMARY KEY,
        record_id     INTEGER NOT NULL REFERENCES records (record_id),
        design        TEXT NOT NULL,
        tier          TEXT NOT NULL,
        self_reported INTEGER,
        reviewer      TEXT NOT NULL,
        reason        TEXT NOT NULL,
        at            TEXT NOT NULL
    );
    CREATE INDEX design_overrides_record ON design_overrides (record_id, at);
    CREATE TABLE screening_decisions (
        decision_id INTEGER PRIMARY KEY,
        record_id   INTEGER NOT NULL REFERENCES records (record_id),
        stage       TEXT NOT NULL CHECK (stage IN ('title_abstract', 'full_text')),
        reviewer    TEXT NOT NULL,
        decision    TEXT NOT NULL,
        reason      TEXT,
        notes       TEXT,
        kind        TEXT NOT NULL DEFAULT 'decision',
        file_hash   TEXT,
        at          TEXT NOT NULL
    );
    CREATE INDEX screening_decisions_record ON screening_decisions (record_id, stage, reviewer, decision_id);
    CREATE TABLE screening_exports (
        export_id  TEXT PRIMARY KEY,
        stage      TEXT NOT NULL,
        reviewer   TEXT NOT NULL,
        at         TEXT NOT NULL,
        record_ids TEXT NOT NULL,
        key_hash   TEXT NOT NULL
    );
    CREATE TABLE screening_uploads (
        file_hash TEXT NOT NULL,
        reviewer  TEXT NOT NULL,
        stage     TEXT NOT NULL,
        file      TEXT NOT NULL,
        n_rows    INTEGER NOT NULL,
        at        TEXT NOT NULL,
        PRIMARY KEY (file_hash, reviewer, stage)
    ) WITHOUT ROWID;
    CREATE TABLE study_links (
        record_id  INTEGER PRIMARY KEY REFERENCES records (record_id),
        study_id   INTEGER NOT NULL REFERENCES records (record_id),
        linked_by  TEXT NOT NULL,
        at         TEXT NOT NULL
    );
    CREATE TABLE claim_pins (
        pin_id    INTEGER PRIMARY KEY,
        claim_id  TEXT NOT NULL,
        record_id INTEGER NOT NULL REFERENCES records (record_id),
        pinned    INTEGER NOT NULL,
        reviewer  TEXT NOT NULL,
        reason    TEXT,
        at        TEXT NOT NULL
    );
    """,
    # issue 10: the design text models a review retrained on its reviewers' confirmed designs (JSON, see
    # review/classify/model.py); the newest is the one in use, and classifications.version names it.
    """
    CREATE TABLE design_models (
        version     TEXT PRIMARY KEY,
        built_at    TEXT NOT NULL,
        n_train     INTEGER NOT NULL,
        n_confirmed INTEGER NOT NULL,
        confirmed_through INTEGER NOT NULL,
        model       TEXT NOT NULL
    );
    """,
    # issue 11: corrections, retractions and comments linked to the article they name (not merged);
    # recomputed by every dedupe run, the rule that found each link kept.
    """
    CREATE TABLE related_reports (
        record_id  INTEGER NOT NULL REFERENCES records (record_id),
        article_id INTEGER NOT NULL REFERENCES records (record_id),
        kind       TEXT NOT NULL,
        rule       TEXT NOT NULL,
        dedupe_id  INTEGER NOT NULL,
        PRIMARY KEY (record_id, article_id)
    );
    CREATE INDEX related_reports_article ON related_reports (article_id);
    """,
    # issue 13: full texts found per record, data extraction and risk-of-bias values (append-only
    # history, like screening), the sheets exported for extraction and the uploads imported.
    """
    CREATE TABLE fulltexts (
        fulltext_id INTEGER PRIMARY KEY,
        record_id   INTEGER NOT NULL REFERENCES records (record_id),
        status      TEXT NOT NULL CHECK (status IN ('retrieved', 'not_retrieved')),
        source      TEXT,
        pmcid       TEXT,
        path        TEXT,
        sha256      TEXT,
        reason      TEXT,
        at          TEXT NOT NULL
    );
    CREATE INDEX fulltexts_record ON fulltexts (record_id, fulltext_id);
    CREATE TABLE extraction_exports (
        export_id  TEXT PRIMARY KEY,
        extractor  TEXT NOT NULL,
        at         TEXT NOT NULL,
        record_ids TEXT NOT NULL,
        forms      TEXT NOT NULL,
        key_hash   TEXT NOT NULL,
        suggested  TEXT NOT NULL
    );
    CREATE TABLE extraction_values (
        value_id   INTEGER PRIMARY KEY,
        record_id  INTEGER NOT NULL REFERENCES records (record_id),
        form       TEXT NOT NULL,
        item       TEXT NOT NULL,
        field      TEXT NOT NULL,
        value      TEXT,
        extractor  TEXT NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('value', 'resolution')),
        suggested  INTEGER NOT NULL DEFAULT 0,
        file_hash  TEXT,
        at         TEXT NOT NULL
    );
    CREATE INDEX extraction_values_key ON extraction_values (record_id, form, item, field, value_id);
    CREATE TABLE extraction_uploads (
        file_hash TEXT NOT NULL,
        extractor TEXT NOT NULL,
        kind      TEXT NOT NULL,
        file      TEXT NOT NULL,
        n_values  INTEGER NOT NULL,
        at        TEXT NOT NULL,
        PRIMARY KEY (file_hash, extractor, kind)
    ) WITHOUT ROWID;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

