"""A fixture review with known PRISMA numbers, built through the store's and the screening module's own
functions, and checks that the fixture holds what its description says (the other test_prisma* files use it).

Sources (record ids are given in insertion order):
  citation_searching (other, import)   C1-C4   ids 1-4
  pubmed (database, search)            P1-P10  ids 5-14
  embase (database, import)            E1-E8   ids 15-22 (E8 = id 22 deleted by the source)
  clinicaltrials (register, import)    R1-R3   ids 23-25
  websites (other, import)             W1-W2   ids 26-27
Duplicate clusters: {5,15} {6,16} {7,17} (PubMed = Embase), {1,8} (a citation found again in PubMed: the
cluster's primary is the citation, but it counts in the databases arm), {2,3} (within citation searching).

Databases/registers arm: 21 identified (PubMed 10, Embase 8, ClinicalTrials.gov 3), 3 duplicates, 1 removed
(deleted), 17 to screen: 2 awaiting (24, 25), 6 excluded at title/abstract (9-12 not kratom, 13-14 not human),
9 forwarded; full text: 1 awaiting (23), 1 not retrieved (21), 3 excluded (18, 19 wrong population; 20 no
withdrawal/OUD outcome), 4 included (1, 5, 6, 7); record 6 is a second report of study 5.
Other arm: 6 identified (citations 4, websites 2), 2 duplicates (1 of a database record), 4 to screen:
1 excluded (4), 3 forwarded; full text: 1 not retrieved (26), 1 excluded (27 wrong population), 1 included (2),
a further report of study 7. Included: 3 studies (1, 5, 7), 5 reports.
"""
from __future__ import annotations

from review.models import AbstractSection, Author, Record
from review.screening import FULL_TEXT, TITLE_ABSTRACT
from review.store import Store

TA, FT = TITLE_ABSTRACT, FULL_TEXT
ABSTRACTS = {  # included reports get abstracts the characteristics table can read
    1: "We surveyed 120 adults who use the product in Malaysia about withdrawal.",
    5: "A cohort of 2,798 participants in the United States was followed for a year.",
    6: "Secondary analysis of the same cohort (n = 2,798) in the United States.",
    7: "Case series of five patients treated in Thailand.",
    2: "Twelve volunteers in a crossover design.",
}


def _records(source: str, n: int, start_id: int, *, deleted: set[int] = frozenset()) -> list[Record]:
    out = []
    for i in range(n):
        rid = start_id + i
        out.append(Record(source=source, source_id=f"{source}-{i + 1}", title=f"Fixture study {rid} from {source}",
                          authors=(Author(family=f"Author{rid}", initials="A"),), year=2000 + rid,
                          abstract=(AbstractSection(ABSTRACTS[rid]),) if rid in ABSTRACTS else (),
                          deleted=rid in deleted))
    return out


def add_run(store: Store, run_id: str, kind: str, source: str, source_type: str, records: list[Record],
            when: str, **fields) -> list[int]:
    """One complete search or import run with its records, the way search.py and imports.py log them."""
    store.start_run(run_id, kind, source, source_type=source_type, started_at=when, **fields)
    ups = store.upsert_records(records)
    store.link_run_records(run_id, [u.record_id for u in ups])
    store.update_run(run_id, status="complete", finished_at=when.replace("T10", "T11"), count=len(records),
                     n_new=sum(u.status == "new" for u in ups), n_fetched=len(ups))
    return [u.record_id for u in ups]


def decide(store: Store, rows: list[tuple[int, str, str, str | None]], reviewer: str = "alice",
           at: str = "2026-02-01T00:00:00Z") -> None:
    """Append screening decisions (record, stage, decision, reason) through the screening mixin."""
    store.add_screening_rows([(rid, stage, reviewer, decision, reason, None, "decision", None, at)
                              for rid, stage, decision, reason in rows])


def build_review(path=":memory:") -> Store:
    """The fixture review described in the module docstring."""
    store = Store.open(path)
    ids = add_run(store, "run-citations", "import", "citation_searching", "other",
                  _records("citation_searching", 4, 1), "2026-01-01T10:00:00Z", file="citations.ris")
    assert ids == [1, 2, 3, 4]
    assert add_run(store, "run-pubmed", "search", "pubmed", "database", _records("pubmed", 10, 5),
                   "2026-01-02T10:00:00Z", strategy="fixture", query="kratom[tiab]",
                   limits={"mindate": "2000", "maxdate": None, "datetype": "pdat", "limits": ["humans"]},
                   translation="kratom[tiab]") == list(range(5, 15))
    assert add_run(store, "run-embase", "import", "embase", "database", _records("embase", 8, 15, deleted={22}),
                   "2026-01-03T10:00:00Z", file="embase.ris", limits={"format": "ris"}) == list(range(15, 23))
    assert add_run(store, "run-ctgov", "import", "clinicaltrials", "register", _records("clinicaltrials", 3, 23),
                   "2026-01-04T10:00:00Z", file="trials.csv") == [23, 24, 25]
    assert add_run(store, "run-websites", "import", "websites", "other", _records("websites", 2, 26),
                   "2026-01-05T10:00:00Z", file="web.ris") == [26, 27]
    for members in ((5, 15), (6, 16), (7, 17), (1, 8), (2, 3)):
        store.add_cluster(members, store.get_record(min(members)), [(*members, "doi_exact", {}, "auto")], None,
                          "2026-01-06T00:00:00Z")
    decide(store, [(r, TA, "exclude", "not kratom") for r in (9, 10, 11, 12)]
           + [(r, TA, "exclude", "not human") for r in (13, 14)]
           + [(r, TA, "include", None) for r in (1, 5, 6, 7, 18, 19, 20)]
           + [(r, TA, "maybe", None) for r in (21, 23)]
           + [(4, TA, "exclude", "wrong publication type")] + [(r, TA, "include", None) for r in (2, 26, 27)],
           at="2026-01-10T00:00:00Z")
    decide(store, [(21, FT, "exclude", "not retrievable"), (18, FT, "exclude", "wrong population"),
                   (19, FT, "exclude", "wrong population"), (20, FT, "exclude", "no withdrawal/OUD outcome")]
           + [(r, FT, "include", None) for r in (1, 5, 6, 7, 2)]
           + [(26, FT, "exclude", "not retrievable"), (27, FT, "exclude", "wrong population")],
           at="2026-01-20T00:00:00Z")
    from review.prisma import link_reports

    link_reports(store, [6], 5, "alice", now="2026-01-21T00:00:00Z")
    link_reports(store, [2], 7, "alice", now="2026-01-22T00:00:00Z")
    return store


def make_inconsistent(store: Store) -> Store:
    """Break the fixture: a title/abstract conflict (24), a full-text decision on a record excluded at
    title/abstract (9), a full-text conflict (23), and a record no run found (28)."""
    decide(store, [(24, TA, "include", None), (23, FT, "include", None)], "alice", "2026-03-01T00:00:00Z")
    decide(store, [(24, TA, "exclude", "not kratom"), (23, FT, "exclude", "wrong population"),
                   (9, FT, "include", None)], "bob", "2026-03-02T00:00:00Z")
    [u] = store.upsert_records([Record(source="manual", source_id="x1", title="Typed in by hand")])
    assert u.record_id == 28
    return store


# ------------------------------------------------------------------ the fixture holds what it says

def test_fixture_runs_and_records():
    store = build_review()
    assert [r["run_id"] for r in store.runs()] == ["run-citations", "run-pubmed", "run-embase", "run-ctgov",
                                                   "run-websites"]
    assert store.count_records() == 27
    assert len(list(store.canonical_records())) == 27 - 5 - 1  # five duplicates folded, one deleted
    assert store.duplicate_of()[8] == 1


def test_fixture_screening_statuses():
    from review.screening import current_status

    df = current_status(store := build_review()).set_index("record_id")
    assert set(df.index) == {1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 18, 19, 20, 21, 23, 24, 25, 26, 27}
    assert sorted(df.index[df["included"]]) == [1, 2, 5, 6, 7]
    assert df.loc[24, "ta_status"] == "undecided" and df.loc[23, "ft_status"] == "undecided"
    assert store.study_links() == {6: 5, 2: 7}
