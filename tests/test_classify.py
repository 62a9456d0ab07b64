"""Design classifier: API, precedence of publication types and MeSH over text, context, frames."""
from __future__ import annotations

import pandas as pd
import pytest

import review.classify as classify_pkg
from review.classify import classify, classify_frame, classify_many, record_from_mapping
from review.errors import InputError
from review.models import DESIGN_TIER, AbstractSection, Design, MeshHeading, Record, Tier

TRIAL_TEXT = ("In this randomized, double-blind, placebo-controlled trial, 80 adults were randomly assigned to "
              "kratom capsules or placebo for four weeks.")


def rec(title: str | None = None, abstract: str | None = None, **kw) -> Record:
    sections = (AbstractSection(abstract),) if abstract else ()
    return Record(source="test", source_id=kw.pop("source_id", "1"), title=title, abstract=sections, **kw)


def mesh(*names: str) -> tuple[MeshHeading, ...]:
    return tuple(MeshHeading(n) for n in names)


def test_design_carries_tier_confidence_and_reasons():
    d = classify(rec("Kratom and pain: a randomized controlled trial", TRIAL_TEXT))
    assert isinstance(d, Design)
    assert (d.design, d.tier) == ("rct", Tier.TRIAL)
    assert d.tier is DESIGN_TIER[d.design]
    assert 0.8 <= d.confidence <= 1.0
    assert d.reasons and all(isinstance(r, str) and r for r in d.reasons)
    assert 'in title' in d.reasons[0] and "randomized controlled trial" in d.reasons[0].lower()
    assert d.self_reported is False


def test_case_reports_publication_type_wins_over_trial_wording():
    d = classify(rec("Withdrawal in a trial participant", "We describe a woman enrolled in " + TRIAL_TEXT,
                     publication_types=("Journal Article", "Case Reports")))
    assert (d.design, d.tier) == ("case_report", Tier.ANECDOTAL)
    assert d.reasons[0] == "publication type: Case Reports"
    ignored = [r for r in d.reasons if r.startswith("ignored")]
    assert ignored and "[rct]" in ignored[0]


def test_rct_publication_type_with_terse_abstract():
    d = classify(rec("Kratom tea and pain", "Twenty adults took part.",
                     publication_types=("Randomized Controlled Trial", "Journal Article")))
    assert (d.design, d.tier) == ("rct", Tier.TRIAL)
    assert d.confidence >= 0.9
    assert d.reasons[0] == "publication type: Randomized Controlled Trial"


def test_case_reports_type_refined_to_series_by_text():
    d = classify(rec("Hepatitis in three kratom users", "We report three cases of cholestatic hepatitis.",
                     publication_types=("Case Reports",)))
    assert d.design == "case_series" and d.tier is Tier.ANECDOTAL


def test_review_type_refined_by_text_only_within_secondary():
    systematic = classify(rec("Kratom and the liver", "We searched MEDLINE and Embase; this systematic review "
                              "included 20 studies.", publication_types=("Review",)))
    narrative = classify(rec("Kratom and the liver", "Kratom is a plant. We discuss its pharmacology.",
                             publication_types=("Review",)))
    assert systematic.design == "systematic_review"
    assert narrative.design == "narrative_review"
    assert {systematic.tier, narrative.tier} == {Tier.SECONDARY}


def test_clinical_trial_type_design_from_text():
    d = classify(rec("Kratom pharmacokinetics", "An open-label study in ten healthy volunteers.",
                     publication_types=("Clinical Trial, Phase I",)))
    assert (d.design, d.tier) == ("uncontrolled_trial", Tier.TRIAL)


@pytest.mark.parametrize("pubtype, design", [
    ("Clinical trial registry record (NCT01234567; INTERVENTIONAL; PHASE2)", "trial_registration"),
    ("Clinical Trial Protocol", "trial_registration"),
    ("Review Article", "narrative_review"),
    ("CASE REPORT", "case_report"),
    ("Letter", "editorial_commentary"),
    ("Comment", "editorial_commentary"),
    ("Published Erratum", "other"),
    ("Meta-Analysis", "meta_analysis"),
])
def test_publication_type_strings_from_other_sources(pubtype, design):
    d = classify(rec("Kratom", TRIAL_TEXT, publication_types=(pubtype,)))
    assert d.design == design
    assert d.reasons[0] == f"publication type: {pubtype}"


def test_conference_abstract_type_is_classified_by_text():
    d = classify(rec("Kratom use in a clinic", "Patients completed an anonymous online survey about kratom use.",
                     publication_types=("Conference Abstract",), kind="conference"))
    assert d.design == "cross_sectional_survey"
    assert any(r.startswith("note: conference abstract") for r in d.reasons)


def test_generic_publication_types_carry_no_design():
    d = classify(rec("Kratom and cognition in mice", "Adult male mice received mitragynine.",
                     publication_types=("Journal Article", "Research Support, Non-U.S. Gov't", "Article")))
    assert d.design == "animal"


def test_mesh_animals_without_humans():
    assert classify(rec("Mitragynine and locomotion", mesh=mesh("Animals", "Rats", "Male"))).design == "animal"
    mixed = classify(rec("Mitragynine and locomotion", mesh=mesh("Animals", "Humans", "Male")))
    assert mixed.design != "animal"


def test_mesh_as_topic_headings_are_not_designs():
    d = classify(rec("Kratom trials: a narrative review", "This review discusses how trials of kratom should "
                     "be designed.", mesh=mesh("Humans", "Randomized Controlled Trials as Topic")))
    assert d.tier is Tier.SECONDARY


def test_mesh_study_design_outranks_text():
    d = classify(rec("Kratom use", "We report the prevalence of kratom use.",
                     mesh=mesh("Humans", "Cohort Studies")))
    assert d.design == "cohort" and d.reasons[0] == "MeSH: Cohort Studies"


def test_letter_is_opinion_unless_mesh_indexes_a_study():
    plain = classify(rec("Kratom scheduling", "We read with interest the article.", publication_types=("Letter",)))
    research = classify(rec("Kratom use in students", "A state survey.", publication_types=("Letter",),
                            mesh=mesh("Humans", "Cross-Sectional Studies")))
    assert plain.design == "editorial_commentary"
    assert research.design == "cross_sectional_survey"
    assert any("overridden" in r for r in research.reasons)


def test_call_for_trials_is_not_a_trial():
    d = classify(rec("Kratom for opioid withdrawal", "Kratom is widely used. Randomized controlled trials are "
                     "needed, and placebo-controlled studies should be done before it is recommended."))
    assert d.tier is not Tier.TRIAL


def test_previous_trial_in_background_does_not_make_a_trial():
    d = classify(rec("Kratom among pain patients", "A previous randomized trial found analgesic effects. "
                     "We conducted a cross-sectional survey of 400 patients."))
    assert d.design == "cross_sectional_survey"


def test_randomised_animals_are_an_animal_experiment():
    d = classify(rec("Kratom and ethanol intake", "Male mice were randomly assigned to kratom extract or vehicle."))
    assert d.design == "animal"


def test_review_of_case_reports_is_a_review():
    d = classify(rec("Kratom hepatotoxicity: an analysis of published case reports",
                     "We searched PubMed and Embase for case reports and case series of liver injury. "
                     "Twenty reports met the inclusion criteria."))
    assert d.tier is Tier.SECONDARY


def test_typographic_hyphens_are_understood():
    d = classify(rec(None, "In this double\u2010blind, placebo\u2010controlled study, volunteers received kratom."))
    assert d.tier is Tier.TRIAL


def test_keywords_are_read():
    d = classify(rec("Kratom and pain", keywords=("Randomized controlled trial", "Kratom")))
    assert d.design == "rct" and "in keywords" in d.reasons[0]


def test_self_reported_flag():
    survey = classify(rec("Kratom use", "Respondents completed an anonymous online survey."))
    forum = classify(rec("Kratom on Reddit", "We coded 900 Reddit posts about kratom withdrawal."))
    trial = classify(rec("Kratom", TRIAL_TEXT))
    assert survey.self_reported and forum.self_reported
    assert not trial.self_reported


def test_no_signal_is_unclassified_never_opinion():
    d = classify(rec("Kratom", "Kratom is a tree native to Southeast Asia."))
    assert (d.design, d.tier) == ("unclassified", Tier.UNCLASSIFIED)
    assert d.confidence == 0.0 and "no design signal" in d.reasons[0]
    empty = classify(Record(source="test", source_id="2"))
    assert (empty.design, empty.tier) == ("unclassified", Tier.UNCLASSIFIED)
    assert "no title, abstract" in empty.reasons[0]


def test_classify_rejects_non_records():
    with pytest.raises(InputError, match="expects a review.models.Record"):
        classify({"title": "x"})  # type: ignore[arg-type]


def test_classify_many_matches_classify_and_workers_agree():
    records = [rec("Kratom trial", TRIAL_TEXT, source_id="a"),
               rec("A case report", "We report a 30-year-old man.", source_id="b"),
               rec("Kratom in rats", "Rats received mitragynine.", source_id="c")] * 8
    one = classify_many(records)
    assert one == [classify(r) for r in records]
    assert classify_many(records, workers=2, chunk=5) == one
    with pytest.raises(InputError, match="item 2"):
        classify_many([records[0], "not a record"])  # type: ignore[list-item]


def test_classification_leaves_no_reference_cycles():
    """classify_many pauses the cyclic collector; that is safe only while decisions create no cycles."""
    import gc
    records = [rec("Kratom trial", TRIAL_TEXT, source_id="a"),
               rec("A case report", "We report a 30-year-old man. No randomized trials exist.", source_id="b"),
               rec("Kratom in rats", "Rats were randomized to mitragynine.", source_id="c"),
               rec("Survey", "An online survey of 2,798 kratom users on Reddit.", source_id="d",
                   publication_types=("Journal Article",)),
               rec("Letter", "", source_id="e", publication_types=("Letter",))]
    classify_many(records)  # warm caches (compiled regexes) first
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        classify_many(records * 20)
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()
    assert gc.isenabled() == was  # classify_many restores the collector's state


def test_classify_frame_from_records_and_dicts():
    frame = classify_frame([rec("Kratom trial", TRIAL_TEXT, source_id="7"),
                            {"title": "Kratom in mice", "abstract": "Mice received kratom.", "source_id": "8"}])
    assert list(frame.columns) == ["record_id", "design", "evidence_tier", "self_reported", "confidence",
                                   "design_reasons"]
    assert frame["record_id"].tolist() == ["test:7", "frame:8"]
    assert frame["design"].tolist() == ["rct", "animal"]
    assert frame["evidence_tier"].tolist() == ["trial", "preclinical"]
    assert "mice" in frame["design_reasons"][1].lower()


def test_classify_frame_keeps_dataframe_index_and_reads_strings():
    df = pd.DataFrame({"title": ["A case report", "Kratom tea and pain"],
                       "abstract": ["We report a 30-year-old woman.", None],
                       "publication_types": [None, "Journal Article; Randomized Controlled Trial"],
                       "mesh": ["Humans; *Liver", None]}, index=["x", "y"])
    out = classify_frame(df)
    assert list(out.index) == ["x", "y"]
    assert out.loc["x", "design"] == "case_report"
    assert out.loc["y", "design"] == "rct"
    assert out.loc["y", "design_reasons"].startswith("publication type: Randomized Controlled Trial")


def test_classify_frame_bad_input_names_row_and_field():
    with pytest.raises(InputError, match=r"row 2: 'publication_types' must be"):
        classify_frame([{"title": "ok"}, {"title": "bad", "publication_types": 5}])
    with pytest.raises(InputError, match="needs a 'title' or 'abstract' column; it has doi, year"):
        classify_frame(pd.DataFrame({"doi": ["10.1/x"], "year": [2020]}))
    with pytest.raises(InputError, match="row 1: 'title' must be text"):
        classify_frame([{"title": 12}])


def test_record_from_mapping_reads_structured_abstract_and_major_mesh():
    r = record_from_mapping({"title": "T", "abstract": [{"label": "METHODS", "text": "An online survey."}],
                             "mesh": ["*Mitragyna/adverse effects", "Humans"]})
    assert r.abstract_text == "METHODS: An online survey."
    assert r.mesh[0] == MeshHeading("Mitragyna", major=True)
    assert classify(r).design == "cross_sectional_survey"


def test_module_documents_its_precedence():
    doc = classify_pkg.__doc__ or ""
    assert "Precedence" in doc and "publication type" in doc.lower() and "MeSH" in doc


def test_letters_whose_lower_case_is_longer_keep_spans_aligned():
    d = classify(rec("\u0130stanbul clinic",
                     "\u0130n this study we report a 30-year-old man who presented with seizures."))
    assert d.design == "case_report"
    assert "we report a 30-year-old man" in d.reasons[0]


def test_journal_name_is_a_weak_signal():
    d = classify(Record(source="test", source_id="9", journal="BMJ Case Rep"))
    assert d.design == "case_report" and d.confidence <= 0.7


def test_common_phrases_that_are_not_design_labels():
    chart = classify(rec("Kratom withdrawal admissions", "In this retrospective review of medical records, 40 "
                         "admissions for kratom withdrawal were identified; symptoms improved in response to "
                         "buprenorphine."))
    assert chart.design == "cohort"
    background = classify(rec("Kratom use and sleep", "In vitro studies suggest that mitragynine binds opioid "
                              "receptors. We report the prevalence of poor sleep among 300 respondents."))
    assert background.tier.value == "observational"
