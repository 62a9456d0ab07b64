"""Normalisation of matching keys: DOI, title, authors, journal, pages, volume, year."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from review.dedupe import normalise_record
from review.dedupe.normalise import (
    PersonKey,
    author_keys,
    journals_compatible,
    norm_doi,
    norm_issue,
    norm_pages,
    norm_pmid,
    norm_title,
    norm_volume,
    norm_year,
    normalise_table,
    raw_table,
    title_markers,
    title_parts,
)
from review.dedupe.rules import title_contrast
from review.errors import InputError
from review.models import Author, Record


@pytest.mark.parametrize("raw, expected", [
    ("10.1016/J.DRUGALCDEP.2020.107849", "10.1016/j.drugalcdep.2020.107849"),
    ("https://doi.org/10.1016/j.x.2020.1", "10.1016/j.x.2020.1"),
    ("http://dx.doi.org/10.1016/j.x.2020.1.", "10.1016/j.x.2020.1"),
    ("doi: 10.1002/14651858.CD012345.pub2;", "10.1002/14651858.cd012345.pub2"),
    ("https://doi.org/10.1000%2Fabc", "10.1000/abc"),
    ("not a doi", ""),
    (None, ""),
    (float("nan"), ""),
])
def test_norm_doi(raw, expected):
    assert norm_doi(raw) == expected


def test_norm_pmid():
    assert norm_pmid("PMID: 32000001") == "32000001"
    assert norm_pmid(32000001) == "32000001"
    assert norm_pmid(32000001.0) == "32000001"
    assert norm_pmid("n/a") == ""


@pytest.mark.parametrize("raw, expected", [
    ("Kratom Use: A Survey.", "kratom use a survey"),
    ("<i>In vitro</i> effects of &alpha;-mitragynine &amp; 7-OH", "in vitro effects of alpha mitragynine 7 oh"),
    ("Opioid withdrawal in Zürich", "opioid withdrawal in zurich"),
    ("[Kratom use in Germany]. [German]", "kratom use in germany"),
    ("Kratom use in Thailand [Chinese]", "kratom use in thailand"),
    ("[Kratom in lung cancer surgery] LA: Chi", "kratom in lung cancer surgery"),
    ("[Kratom and opioid substitution] TO: Kratom und Substitution", "kratom and opioid substitution"),
    ("A title. <ORIGINAL> UN TITRE ORIGINAL", "a title"),
    ("Kratom review. [Review] [45 refs]", "kratom review"),
    ("Kratom study.[Erratum appears in J X. 2006 Jan;15(1):187]", "kratom study"),
    ("Kratom study [Erratum appears in J X. 2006 Jan", "kratom study"),
    ("A phase II trial", "a phase 2 trial"),
    ("Type I diabetes", "type 1 diabetes"),
    ("Women >or=30 years", "women ge 30 years"),
    ("Women \u2265 30 years", "women ge 30 years"),
    ("Tumour control in paediatric patients", "tumor control in pediatric patients"),
    ("RETRACTED: Kratom and mood", "kratom and mood"),
    ("Erratum: Kratom and mood", "kratom and mood"),
    ("Kratom for pain (Protocol)", "kratom for pain"),
    ("[18F]FDG uptake", "18f fdg uptake"),
    ("", ""),
])
def test_norm_title(raw, expected):
    assert norm_title(raw) == expected


def test_norm_title_strips_a_trailing_journal_name_only():
    title = "Kratom use among adults in treatment. Drug and Alcohol Dependence"
    assert norm_title(title, "Drug and Alcohol Dependence") == "kratom use among adults in treatment"
    assert norm_title("Kratom and the journal", "Journal") == "kratom and the journal"


def test_title_parts_of_bilingual_titles():
    parts = title_parts("Consumo de kratom en adultos jovenes; Kratom use in young adults today")
    assert parts == ("consumo de kratom en adultos jovenes", "kratom use in young adults today")
    assert title_parts("Kratom; a review") == ()


@pytest.mark.parametrize("title, markers", [
    ("Erratum: Kratom use", {"erratum"}),
    ("Correction to: Kratom use", {"erratum"}),
    ("Re: Kratom use", {"comment"}),
    ("Comment on 'Kratom use'", {"comment"}),
    ("Tumour response to chemotherapy", set()),
    ("Retraction notice: Kratom use", {"retraction"}),
    ("RETRACTED: Kratom use", set()),
    ("Kratom use [Abstract]", {"conference"}),
    ("Kratom use (Protocol)", {"protocol"}),
    ("Kratom use", set()),
])
def test_title_markers(title, markers):
    assert title_markers(title) == markers


def test_markers_from_publication_types_kind_and_venue():
    assert title_markers("X", publication_types=("Published Erratum",)) == {"erratum"}
    assert title_markers("X", kind="inproceedings") == {"conference"}
    assert title_markers("X", journal="Abstracts of the CPDD Annual Meeting") == {"conference"}


@pytest.mark.parametrize("raw, surnames, initials", [
    ("Zuna, R E and Wang, S S", ["zuna", "wang"], ["RE", "SS"]),
    ("Terra, Ricardo Mingarini and Pego-Fernandes, Paulo", ["terra", "pegofernandes"], ["RM", "P"]),
    ("Smith JK, Jones KL, Brown A", ["smith", "jones", "brown"], ["JK", "KL", "A"]),
    ("SMITH J; JONES K", ["smith", "jones"], ["J", "K"]),
    ("F. K. Smith and John Doe", ["smith", "doe"], ["FK", "J"]),
    ("I. H. MULLER-WERDAN AND S. A. COLLAÇO", ["mullerwerdan", "collaco"], ["IH", "SA"]),
    ("Lepojärvi, M. and Kärkölä, P.", ["lepojarvi", "karkola"], ["M", "P"]),
    ("Lynch Jr, T. J.", ["lynch"], ["TJ"]),
    ("Smith, J. et al.", ["smith"], ["J"]),
])
def test_author_keys(raw, surnames, initials):
    keys = author_keys(raw)
    assert [p.surname for p in keys.persons] == surnames
    assert [p.initials for p in keys.persons] == initials


def test_collective_authors_are_kept_apart():
    keys = author_keys("Walker, J L and Group, ASCUS LSIL Triage Study")
    assert keys.persons == (PersonKey("walker", "JL"),)
    assert keys.collectives == ("group ascus lsil triage study",)
    assert author_keys("Anonymous").persons == ()


def test_author_keys_from_model_authors():
    authors = (Author(family="Müller", given="Jürgen"), Author(collective="Kratom Study Group"),
               Author(family="Smith", initials="KE"))
    keys = author_keys(authors)
    assert keys.persons == (PersonKey("muller", "J"), PersonKey("smith", "KE"))
    assert keys.collectives == ("kratom study group",)


@pytest.mark.parametrize("a, b, expected", [
    ("Cancer Epidemiology, Biomarkers & Prevention", "Cancer Epidemiol Biomarkers Prev", True),
    ("The Annals of thoracic surgery", "Ann Thorac Surg", True),
    ("Journal of the National Cancer Institute", "J Natl Cancer Inst", True),
    ("European Journal of Cardio-Thoracic Surgery", "Eur J Cardiothorac Surg", True),
    ("Dtsch-Med-Wochenschr", "Deutsche Medizinische Wochenschrift", True),
    ("BMJ", "British Medical Journal", True),
    ("Jthoraccardiovascsurg", "The Journal of thoracic and cardiovascular surgery", True),
    ("Lung cancer (Amsterdam, Netherlands)", "Lung Cancer", True),
    ("Journal of clinical oncology : official journal of ASCO", "J Clin Oncol", True),
    ("Cancer", "Cancer Research", False),
    ("Lancet", "Lancet Oncology", False),
    ("J Clin Oncol", "Japanese Journal of Clinical Oncology", False),
    ("Annals of Oncology", "Annals of Surgical Oncology", False),
])
def test_journals_compatible(a, b, expected):
    assert journals_compatible(a, b) is expected
    assert journals_compatible(b, a) is expected


@pytest.mark.parametrize("raw, first, last, starts", [
    ("1234-45", "1234", "1245", {"1234"}),
    ("1234-1245", "1234", "1245", {"1234"}),
    ("S109-S112", "109", "112", {"109"}),
    ("e12724", "12724", "12724", {"12724"}),
    ("97-104; discussion 104-6", "97", "104", {"97"}),
    ("233-238+230-235+246-251", "233", "238", {"233", "230", "246"}),
    ('"230-5, 246-51, 233-8"', "230", "235", {"230", "246", "233"}),
    ("21-Apr", "4", "21", {"4"}),
    ("A125 [015-02]", "125", "125", {"125"}),
    ("pp. 12-15", "12", "15", {"12"}),
    ("Suppl-12", "", "", set()),
    ("t-8", "", "", set()),
    ("2006", "", "", set()),  # the year typed into the pages field
    ("", "", "", set()),
])
def test_norm_pages(raw, first, last, starts):
    keys = norm_pages(raw, year=2006)
    assert (keys.first, keys.last, set(keys.starts)) == (first, last, starts)


def test_article_numbers_are_recognised():
    assert norm_pages("e0123456").article_number
    assert norm_pages("CD012345").article_number
    assert not norm_pages("123-129").article_number


@pytest.mark.parametrize("raw, expected", [
    ("35 ( Pt 1)", "35"), ("Volume 13 Suppl 1", "13"), ("Suppl 18", ""), ("30a", "30"),
    (108.0, "108"), ("008", "8"), ("", ""),
])
def test_norm_volume(raw, expected):
    assert norm_volume(raw) == expected


def test_norm_issue_and_year():
    assert norm_issue("Suppl 3") == "3"
    assert norm_issue("x") == ""
    assert norm_year("2010 Mar") == 2010
    assert norm_year(2010.0) == 2010
    assert norm_year("n.d.") is None
    assert norm_year("1066") is None


def test_title_contrast():
    assert title_contrast("kratom in vitro study", "kratom in vivo study") == "vitro vs vivo"
    assert title_contrast("a phase 2 trial", "a phase 3 trial") == "numbers 2 vs 3"
    assert title_contrast("higher doses", "lower doses") == "higher vs lower"
    assert title_contrast("hepatitis b in men", "hepatitis c in men") == "letters b vs c"
    assert title_contrast("kratom does not help", "kratom does help").startswith("negation")
    assert title_contrast("p16ink4a as a marker", "p16 ink4a as a marker") == ""
    assert title_contrast("kratom use in adults", "kratom usage in adults") == ""


def test_normalise_record_is_pure_and_keeps_the_record():
    record = Record(source="embase", source_id="E1", doi="https://doi.org/10.1016/J.X.2020.1",
                    title="Kratom &amp; Withdrawal.", authors=(Author(family="Smith", initials="K"),),
                    journal="Drug Alcohol Depend", year=2020, volume="208", pages="107849-56")
    before = record.to_json()
    keys = normalise_record(record)
    assert record.to_json() == before
    assert keys == normalise_record(record)
    assert (keys.doi, keys.title, keys.year, keys.volume) == ("10.1016/j.x.2020.1", "kratom withdrawal", 2020, "208")
    assert keys.pages.last == "107856"
    assert keys.authors == (PersonKey("smith", "K"),)


def test_table_columns_are_matched_by_export_names():
    df = pd.DataFrame({"ID": ["a"], "Title": ["X y z"], "AUTHORS": ["Smith, J"], "Number": ["4"],
                       "container_title": ["Lancet"], "unrelated": [1]})
    raw = raw_table(df)
    assert raw.loc[0, "title"] == "X y z" and raw.loc[0, "issue"] == "4"
    assert raw.loc[0, "journal"] == "Lancet" and raw.loc[0, "doi"] is None


def test_bad_cells_name_the_row_and_column():
    df = pd.DataFrame({"ID": ["r1", "r2"], "title": ["ok", {"not": "text"}]})
    with pytest.raises(InputError) as err:
        normalise_table(raw_table(df), ids=df["ID"])
    assert "row 1 (ID 'r2'), column 'title'" in str(err.value)
    assert "dict" in str(err.value)


def test_non_dataframe_is_rejected():
    with pytest.raises(InputError, match="pandas DataFrame"):
        raw_table([{"title": "x"}])


def test_missing_values_are_empty_keys():
    keys = normalise_table(raw_table(pd.DataFrame({"title": [math.nan], "year": [None]})))
    assert keys.loc[0, "title"] == "" and pd.isna(keys.loc[0, "year"])


def test_family_name_particles_do_not_take_part_in_the_key():
    from review.dedupe.normalise import author_keys
    keys = {name: author_keys(name).persons[0].surname
            for name in ("Le Quintrec, M.", "Quintrec ML", "van der Berg, J.", "Berg, J.", "De la Cruz, A", "Cruz, A")}
    assert keys["Le Quintrec, M."] == keys["Quintrec ML"] == "quintrec"
    assert keys["van der Berg, J."] == keys["Berg, J."] and keys["De la Cruz, A"] == keys["Cruz, A"]
    assert author_keys("O'Brien, K").persons[0].surname == "obrien"  # an apostrophe still joins
    assert author_keys("Van, T").persons[0].surname == "van"  # a particle alone is the name


def test_journal_words_bled_into_the_volume_are_put_back():
    from review.dedupe.normalise import journal_with_bleed, norm_volume
    assert norm_volume("Drug Discovery. 9") == "9"
    assert journal_with_bleed("Nature Reviews", "Drug Discovery. 9") == "Nature Reviews Drug Discovery"
    assert journal_with_bleed("Nature Reviews Drug Discovery", "Drug Discovery. 9") == "Nature Reviews Drug Discovery"
    assert norm_volume("Suppl 18") == "" and norm_volume("Vol. 12") == "12"
    assert journal_with_bleed("Lancet", "Vol. 12") == "Lancet"
