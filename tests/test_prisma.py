"""PRISMA counts on the fixture review with known numbers (tests/test_prisma_fixture.py), the consistency
checks, the PRISMA2020-format CSV, report-to-study links and the pure helpers."""
from __future__ import annotations

import csv
import io
import json

import pytest

from review.errors import InputError
from review.prisma import (
    DBR, OTHER, Stamp, counts_from_states, display_name, link_reports, other_category, prisma2020_csv,
    prisma_counts, record_states, resolve_studies, source_counts, source_type_of, unlink_reports,
)
from review.screening import TITLE_ABSTRACT, reopen
from review.store import Store

try:
    from test_prisma_fixture import FT, TA, add_run, build_review, decide, make_inconsistent, _records
except ImportError:  # tests/ imported as a package
    from tests.test_prisma_fixture import FT, TA, add_run, build_review, decide, make_inconsistent, _records


@pytest.fixture
def counts():
    with build_review() as store:
        yield prisma_counts(store)


# ------------------------------------------------------------------ every box

def test_databases_and_registers_arm(counts):
    d = counts.dbr
    assert (d.identified, d.by_category("database"), d.by_category("register")) == (21, 18, 3)
    assert [(s.name, s.records) for s in d.sources] == [("PubMed", 10), ("Embase", 8), ("ClinicalTrials.gov", 3)]
    assert (d.duplicates, d.automatic, d.removed_other) == (3, 0, 1)
    assert (d.awaiting_screening, d.screening_conflicts, d.screened, d.screen_excluded) == (2, 0, 15, 6)
    assert d.screen_reasons == (("not kratom", 4), ("not human", 2))
    assert (d.sought, d.not_retrieved, d.awaiting_assessment, d.assessed, d.excluded) == (9, 1, 1, 7, 3)
    assert d.exclusion_reasons == (("wrong population", 2), ("no withdrawal/OUD outcome", 1))
    assert (d.included_reports, d.included_studies) == (4, 3)


def test_other_methods_arm(counts):
    o = counts.other
    assert (o.identified, o.by_category("citations"), o.by_category("websites"), o.by_category("organisations")) \
        == (6, 4, 2, 0)
    assert (o.duplicates, o.duplicates_of_dbr, o.removed_other) == (2, 1, 0)
    assert (o.awaiting_screening, o.screened, o.screen_excluded, o.sought) == (0, 4, 1, 3)
    assert (o.not_retrieved, o.assessed, o.excluded, o.exclusion_reasons) == (1, 2, 1, (("wrong population", 1),))
    assert (o.included_reports, o.included_studies) == (1, 1)


def test_included_studies_count_linked_reports_once_across_arms(counts):
    assert (counts.new_reports, counts.new_studies) == (5, 3)


def test_sources_carry_their_dates(counts):
    by = {s.source: s for s in counts.dbr.sources + counts.other.sources}
    assert by["pubmed"].date_text == "searched 2026-01-02"
    assert by["embase"].date_text == "imported 2026-01-03"
    assert by["citation_searching"].category == "citations" and by["websites"].category == "websites"


def test_all_checks_pass_on_the_consistent_fixture(counts):
    assert counts.ok and counts.problems == ()
    assert len(counts.checks) == 8
    first = counts.checks[0]
    assert (first.arm, first.terms, first.left, first.right) == (DBR, "21 - 3 - 0 - 1 - 2", 15, 15)
    assert [(c.left, c.right) for c in counts.checks if c.arm == OTHER] == [(4, 4), (3, 3), (2, 2), (1, 1)]


def test_stamp_reflects_the_latest_stored_change_not_the_clock(counts):
    assert counts.stamp == Stamp(":memory:", "2026-01-22T00:00:00Z", "run-websites", counts.stamp.latest_decision)
    assert counts.stamp.latest_decision == 30  # the fixture appends 19 title/abstract and 11 full-text rows


# ------------------------------------------------------------------ the PRISMA2020 CSV

# Keys of the PRISMA2020 R package's template (inst/extdata/PRISMA.csv), in its order.
TEMPLATE_KEYS = [
    "NA", "previous_studies", "previous_reports", "NA", "database_results", "database_specific_results",
    "register_results", "register_specific_results", "NA", "website_results", "organisation_results",
    "citations_results", "duplicates", "excluded_automatic", "excluded_other", "records_screened",
    "records_excluded", "dbr_sought_reports", "dbr_notretrieved_reports", "other_sought_reports",
    "other_notretrieved_reports", "dbr_assessed", "dbr_excluded", "other_assessed", "other_excluded",
    "new_studies", "new_reports", "total_studies", "total_reports", "identification", "screening", "included",
    "total_studies_ma", "total_reports_ma",
]


def test_prisma2020_csv_has_the_exact_keys_and_the_fixture_numbers(counts):
    text = prisma2020_csv(counts)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["data", "node", "box", "description", "boxtext", "tooltips", "url", "n"]
    assert [r[0] for r in rows[1:]] == TEMPLATE_KEYS
    assert all(len(r) == 8 for r in rows)
    n = {r[0]: r[7] for r in rows[1:] if r[0] != "NA"}
    assert n == {
        "previous_studies": "0", "previous_reports": "0", "database_results": "18",
        "database_specific_results": "PubMed, 10; Embase, 8", "register_results": "3",
        "register_specific_results": "ClinicalTrials.gov, 3", "website_results": "2", "organisation_results": "0",
        "citations_results": "4", "duplicates": "3", "excluded_automatic": "0", "excluded_other": "1",
        "records_screened": "15", "records_excluded": "6", "dbr_sought_reports": "9",
        "dbr_notretrieved_reports": "1", "other_sought_reports": "3", "other_notretrieved_reports": "1",
        "dbr_assessed": "7", "dbr_excluded": "wrong population, 2; no withdrawal/OUD outcome, 1",
        "other_assessed": "2", "other_excluded": "wrong population, 1", "new_studies": "3", "new_reports": "5",
        "total_studies": "3", "total_reports": "5", "identification": "0", "screening": "0", "included": "0",
        "total_studies_ma": "0", "total_reports_ma": "0",
    }
    # The template's own texts are kept as they are (the R package finds rows and labels by them).
    by_key = {r[0]: r for r in rows[1:]}
    assert by_key["dbr_excluded"][1:7] == [
        "node14", "box9", "Reports excluded (databases and registers): [separate reasons and numbers using ; e.g. "
        "Reason1, xxx; Reason2, xxx; Reason3, xxx]", "Reports excluded", "Reports excluded (databases and registers)",
        "dbrexcludedrecords.html"]
    assert by_key["organisation_results"][1] == ""  # empty in the template too
    assert text.splitlines()[1] == ("NA,node4,prevstud,Grey title box; Previous studies,Previous studies,"
                                    "Grey title box; Previous studies,prevstud.html,0")


def test_names_with_commas_or_semicolons_cannot_break_the_r_parser():
    with Store.open(":memory:") as store:
        add_run(store, "r1", "search", "pubmed", "database", _records("pubmed", 2, 1), "2026-01-02T10:00:00Z")
        decide(store, [(1, TA, "include", None), (2, TA, "include", None), (1, FT, "exclude", "adults; over 65"),
                       (2, FT, "exclude", "wrong dose, route")])
        boxes = prisma_counts(store).boxes()
    # R splits on ';' and reads the reason up to the first ','
    assert boxes["dbr_excluded"] == "adults / over 65, 1; wrong dose / route, 1"


# ------------------------------------------------------------------ inconsistent stores

def test_inconsistent_store_is_reported_with_record_ids():
    with make_inconsistent(build_review()) as store:
        c = prisma_counts(store)
    assert not c.ok
    kinds = {p.kind: p.record_ids for p in c.problems}
    assert kinds == {"screening_conflict": (24,), "assessment_conflict": (23,), "stray_full_text": (9,),
                     "unlinked": (28,)}
    failing = {(ch.arm, ch.name): ch.record_ids for ch in c.checks if not ch.ok}
    assert failing == {(DBR, "identified - removed before screening = screened"): (24,),
                       (DBR, "screened - excluded = sought"): (9,),
                       (DBR, "sought - not retrieved = assessed"): (23,)}
    # The broken records are not silently counted in any box.
    d = c.dbr
    assert (d.awaiting_screening, d.screening_conflicts, d.screened, d.screen_excluded) == (1, 1, 15, 6)
    assert (d.sought, d.awaiting_assessment, d.assessment_conflicts, d.assessed, d.included_reports) == (9, 0, 1, 7, 4)
    assert c.problem_record_ids == (9, 23, 24, 28)


def test_reopening_voids_the_stray_full_text_decision():
    with build_review() as store:
        decide(store, [(9, FT, "include", None)], "bob", "2026-03-01T00:00:00Z")
        assert [p.kind for p in prisma_counts(store).problems] == ["stray_full_text"]
        reopen(store, 9, TITLE_ABSTRACT, "alice", "decided at full text by mistake", now="2026-03-02T00:00:00Z")
        c = prisma_counts(store)
    assert c.ok
    assert (c.dbr.awaiting_screening, c.dbr.screen_excluded) == (3, 5)


def test_missing_full_text_reason_is_counted_apart_and_reported():
    with Store.open(":memory:") as store:
        add_run(store, "r1", "search", "pubmed", "database", _records("pubmed", 1, 1), "2026-01-02T10:00:00Z")
        decide(store, [(1, TA, "include", None), (1, FT, "exclude", None)])
        c = prisma_counts(store)
    assert c.dbr.exclusion_reasons == (("Reason not recorded", 1),)
    assert [(p.kind, p.record_ids) for p in c.problems] == [("missing_reason", (1,))]


def test_unscreened_review_is_all_awaiting_and_consistent():
    with Store.open(":memory:") as store:
        add_run(store, "r1", "search", "pubmed", "database", _records("pubmed", 5, 1), "2026-01-02T10:00:00Z")
        c = prisma_counts(store)
    assert c.ok
    assert (c.dbr.identified, c.dbr.awaiting_screening, c.dbr.screened, c.dbr.screen_excluded) == (5, 5, 0, 0)
    assert (c.new_studies, c.new_reports, c.has_other_methods) == (0, 0, False)
    assert len(c.checks) == 4  # no other-methods arm, no checks for it


# ------------------------------------------------------------------ several reports of one study

def test_link_reports_refuses_bad_links_and_writes_nothing():
    with build_review() as store:
        before = store.study_links()
        with pytest.raises(InputError) as err:
            link_reports(store, [15], 5, "alice")  # 15 is a duplicate of 5
        assert "record 15 is a duplicate of record 5: use 5" in str(err.value)
        with pytest.raises(InputError, match="record 6 is itself a report of study 5: link to 5"):
            link_reports(store, [7], 6, "alice")
        with pytest.raises(InputError, match="record 5 is the study of reports 6"):
            link_reports(store, [5], 1, "alice")
        with pytest.raises(InputError, match="record 999 is not in the store"):
            link_reports(store, [999], 1, "alice")
        with pytest.raises(InputError, match="who links"):
            link_reports(store, [9], 1, " ")
        assert store.study_links() == before


def test_unlinking_makes_a_report_its_own_study_again():
    with build_review() as store:
        assert unlink_reports(store, [6]) == 1
        c = prisma_counts(store)
    assert (c.new_reports, c.new_studies, c.dbr.included_studies) == (5, 4, 4)


def test_study_link_cycles_are_problems():
    study_of, problems = resolve_studies({1: 2, 2: 3, 3: 1, 4: 5}, {})
    assert study_of == {4: 5}
    assert [(p.kind, p.record_ids) for p in problems] == [("study_link_cycle", (1, 2, 3))]
    chained, _ = resolve_studies({1: 2, 2: 3, 7: 8}, {8: 9})  # chains end at the study; duplicates map through
    assert chained == {1: 3, 2: 3, 7: 9}


# ------------------------------------------------------------------ API shapes and pure helpers

def test_frame_and_dict_carry_the_same_numbers(counts):
    df = counts.to_frame()
    n = dict(zip(df["key"], df["n"]))
    assert (n["dbr_records_screened"], n["other_sought_reports"], n["new_studies"]) == (15, 3, 3)
    reasons = df[df["key"] == "dbr_excluded_reason"]
    assert dict(zip(reasons["label"], reasons["n"])) == {"wrong population": 2, "no withdrawal/OUD outcome": 1}
    d = json.loads(json.dumps(counts.to_dict()))
    assert d["prisma2020"]["records_excluded"] == 6 and d["ok"] is True
    assert d["dbr"]["sources"][0]["name"] == "PubMed"


def test_arm_of_a_cluster_follows_any_database_or_register_member():
    identified = [{"record_id": 1, "source": "hand_search", "deleted": 0, "source_type": "other"},
                  {"record_id": 2, "source": "scopus", "deleted": 0, "source_type": "database"},
                  {"record_id": 3, "source": "websites", "deleted": 0, "source_type": "other"}]
    states = record_states(identified, {10: (1, (1, 2)), 11: (3, (3,))}, {}, {})
    by = states.set_index("record_id")
    assert by.loc[2, "removed"] == "" and by.loc[2, "arm"] == DBR and by.loc[2, "canonical_id"] == 1
    assert by.loc[1, "removed"] == "duplicate" and by.loc[1, "duplicate_in"] == DBR
    assert by.loc[3, "ta"] == "unknown"  # no screening status for it: reported, not counted
    c = counts_from_states(states, source_counts(states, []), Stamp("x", None, None))
    assert [p.kind for p in c.problems] == ["unknown_state"]


@pytest.mark.parametrize("source, category", [
    ("citation_searching", "citations"), ("Snowballing", "citations"), ("hand-search", "citations"),
    ("organisations", "organisations"), ("WHO Organization pages", "organisations"), ("article_pages", "websites"),
    ("google", "websites")])
def test_other_category(source, category):
    assert other_category(source) == category


def test_source_type_and_display_names():
    assert source_type_of(["other", "register"]) == "register"
    assert source_type_of(["other", "database", "register"]) == "database"
    assert source_type_of([]) == "other"
    assert display_name("pubmed") == "PubMed" and display_name("ClinicalTrials") == "ClinicalTrials.gov"
    assert display_name("article_pages") == "Article pages" and display_name("MyDB") == "MyDB"
