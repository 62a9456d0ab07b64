"""Public API: dedupe() over stored records, find_duplicates() over tables, merge_records()."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from review.dedupe import (
    Cluster,
    DedupeResult,
    dedupe,
    find_duplicates,
    merge_records,
)
from review.errors import InputError
from review.models import AbstractSection, Author, MeshHeading, Record

TITLE = "Kratom use and opioid withdrawal symptoms in adults: a cross-sectional survey"


def _record(source: str, source_id: str, **fields) -> Record:
    base = dict(title=TITLE, authors=(Author("Garcia-Romeu", "Albert", "A"), Author("Cox", "David", "DJ")),
                journal="Drug and Alcohol Dependence", year=2020, volume="208", pages="107849-107856")
    base.update(fields)
    return Record(source=source, source_id=source_id, **base)


PUBMED = _record("pubmed", "32000001", pmid="32000001", journal_iso="Drug Alcohol Depend",
                 abstract=(AbstractSection("Short."),), publication_types=("Journal Article",),
                 mesh=(MeshHeading("Mitragyna"),), keywords=("kratom",), entry_date="2020-02-03")
EMBASE = _record("embase", "L2004", doi="https://doi.org/10.1016/J.DRUGALCDEP.2020.107849",
                 journal="Drug Alcohol Depend", pages="107849-56",
                 authors=(Author("Garcia-Romeu", None, "A"), Author("Cox", None, "DJ"),
                          Author("Smith", "Kirsten", "KE")),
                 abstract=(AbstractSection("A much longer structured abstract.", "BACKGROUND"),),
                 publication_types=("Article",), mesh=(MeshHeading("mitragyna"), MeshHeading("Opioids")),
                 keywords=("opioid withdrawal", "kratom"), entry_date="2020-01-15")
ERRATUM = _record("embase", "L2005", title="Erratum: " + TITLE, volume="212", pages="108401")
OTHER = _record("pubmed", "32999999", pmid="32999999", title="Hepatotoxicity after kratom ingestion",
                authors=(Author("Nguyen", None, "T"),), pages="107900")


def test_dedupe_clusters_merges_and_reports():
    result = dedupe([(11, PUBMED), (12, EMBASE), (13, ERRATUM), (14, OTHER)])
    assert isinstance(result, DedupeResult)
    assert [c.ids for c in result.clusters] == [(11, 12)]
    assert sorted(result.singletons) == [13, 14]
    cluster = result.clusters[0]
    assert isinstance(cluster, Cluster)
    assert [(e.a, e.b, e.rule) for e in cluster.edges] == [(11, 12, "same_citation")]
    assert cluster.edges[0].scores["title"] == 1.0 and cluster.edges[0].scores["doi"] is None
    assert cluster.source_ids == (("pubmed", "32000001"), ("embase", "L2004"))
    # The erratum looks like both but a guard keeps it out; it names the article, so it is linked to
    # it as a related report (and no person needs to see the pair).
    assert [(r.record_id, r.article_id, r.kind, r.rule) for r in result.related] == [
        (13, 11, "correction", "notice_title")]
    assert result.uncertain == ()
    assert result.counts == {"records": 4, "clusters": 1, "duplicates": 1, "exact": 0,
                             "rule_based": 1, "uncertain": 0, "related": 1,
                             "candidate_pairs": result.counts["candidate_pairs"]}


def test_canonical_record_keeps_ids_longest_abstract_and_unions():
    canonical = dedupe([(1, EMBASE), (2, PUBMED)]).clusters[0].canonical
    assert canonical.source == "pubmed" and canonical.source_id == "32000001"  # PMID wins the base
    assert canonical.pmid == "32000001"
    assert canonical.doi == "https://doi.org/10.1016/J.DRUGALCDEP.2020.107849"  # original spelling
    assert canonical.abstract == EMBASE.abstract
    assert len(canonical.authors) == 3
    assert canonical.journal == "Drug and Alcohol Dependence" and canonical.journal_iso == "Drug Alcohol Depend"
    assert canonical.pages == "107849-107856"
    assert canonical.publication_types == ("Journal Article", "Article")
    assert [m.descriptor for m in canonical.mesh] == ["Mitragyna", "Opioids"]
    assert canonical.keywords == ("kratom", "opioid withdrawal")
    assert canonical.entry_date == "2020-01-15"


def test_merge_records_prefers_complete_records_without_pmid():
    sparse = Record(source="scopus", source_id="S1", title=TITLE)
    full = _record("embase", "E1", issue="3")
    merged = merge_records([sparse, full])
    assert merged.source_id == "E1" and merged.issue == "3" and merged.deleted is False
    assert merge_records([sparse]).title == TITLE


def test_merge_records_rejects_bad_input():
    with pytest.raises(InputError, match="at least one"):
        merge_records([])
    with pytest.raises(InputError, match="position 1"):
        merge_records([PUBMED, {"title": "x"}])


def test_same_pmid_merges_whatever_else_differs():
    a = _record("pubmed", "1", pmid="777", volume="1", pages="5-9")
    b = _record("medline", "2", pmid="777", volume="2", pages="50-59")
    result = dedupe([(1, a), (2, b)])
    assert result.clusters[0].edges[0].rule == "same_pmid"
    assert result.counts["exact"] == 1 and result.counts["rule_based"] == 0


def test_transitive_merges_never_join_a_guarded_pair():
    # A has no pages; B and C share everything but pages, so A~B and A~C while B and C
    # must stay apart. Only one of them may join A.
    a = _record("scopus", "A", pages="")
    b = _record("embase", "B", pages="1200-1210")
    c = _record("wos", "C", pages="1400-1410")
    result = dedupe([(1, a), (2, b), (3, c)])
    assert len(result.clusters) == 1 and len(result.clusters[0].ids) == 2
    assert not {2, 3} <= set(result.clusters[0].ids)
    reasons = {u.reason for u in result.uncertain}
    assert "different_pages" in reasons
    assert "conflicts_with_cluster" in reasons


def test_dedupe_validates_its_input():
    with pytest.raises(InputError) as err:
        dedupe([(1, PUBMED), (1, EMBASE), ("x", OTHER), (4, {"title": "t"}), "junk"])
    message = str(err.value)
    assert "item 1: record id 1 appears more than once" in message
    assert "item 2: record id 'x' is not an integer" in message
    assert "item 3 (id 4): expected Record, got dict" in message
    assert "item 4: expected (record id, Record)" in message


def test_dedupe_of_nothing_and_of_one():
    assert dedupe([]).clusters == () and dedupe([]).counts["records"] == 0
    one = dedupe([(5, PUBMED)])
    assert one.clusters == () and one.singletons == (5,)


def test_find_duplicates_aligns_with_the_index_and_gives_singletons_own_ids():
    df = pd.DataFrame({
        "ID": ["r1", "r2", "r3", "r4"],
        "title": [TITLE, TITLE.upper(), "Something else entirely about kratom", None],
        "author": ["Garcia-Romeu, A. and Cox, D. J."] * 2 + ["Nguyen, T.", None],
        "year": [2020, 2020, 2020, np.nan],
        "journal": ["Drug Alcohol Depend", "Drug and Alcohol Dependence", "Drug Alcohol Depend", None],
        "volume": [208.0, 208.0, 208.0, np.nan],
        "pages": ["107849-56", "107849-107856", "107900", None],
    }, index=[10, 20, 30, 40])
    labels = find_duplicates(df)
    assert list(labels.index) == [10, 20, 30, 40] and labels.dtype == np.int64
    assert labels[10] == labels[20]
    assert len({labels[10], labels[30], labels[40]}) == 3


def test_find_duplicates_with_few_columns_and_no_rows():
    only_doi = pd.DataFrame({"doi": ["10.1000/abc", "https://doi.org/10.1000/ABC", "10.1000/abd"]})
    labels = find_duplicates(only_doi)
    assert labels[0] == labels[1] != labels[2]
    assert find_duplicates(pd.DataFrame(columns=["ID", "title"])).empty


def test_records_and_tables_share_one_engine():
    """dedupe() over Records finds the same clusters as find_duplicates() over the table."""
    path = Path(__file__).parent / "data" / "dedup" / "respiratory" / "records.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=["author"])
    records = [
        (k, Record(source="wos", source_id=row.ID, title=row.title or None,
                   year=int(row.year) if row.year else None, journal=row.journal or None,
                   volume=row.volume or None, issue=row.number or None, pages=row.pages or None))
        for k, row in enumerate(df.itertuples())
    ]
    from_records = {frozenset(c.ids) for c in dedupe(records).clusters}
    labels = find_duplicates(df)
    groups = pd.Series(range(len(df))).groupby(labels.to_numpy()).agg(frozenset)
    from_table = {g for g in groups if len(g) > 1}
    assert len(from_table) > 300
    assert from_records == from_table
