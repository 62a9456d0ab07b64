"""The text model and how it combines with the rules: reproducible, honest about what it does not know."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from review.classify import classify, needs_review
from review.classify import model as text_model
from review.classify.apply import active_model, classify_store, due_for_retraining, label_version, override
from review.classify.decide import MIN_TERMS, combine, decide_rules, planned_work
from review.models import DESIGN_TIER, AbstractSection, MeshHeading, Record, Tier
from review.search import replay
from review.store import Store

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "classify"


def rec(title: str, abstract: str = "", **kw) -> Record:
    return Record(source="test", source_id=title[:20], title=title,
                  abstract=(AbstractSection(abstract),) if abstract else (), **kw)


@pytest.fixture(scope="module")
def bundled():
    return text_model.load()


def test_bundled_model_is_rebuilt_from_the_repository(bundled):
    """The shipped file is what the build script makes from training/real_labelled.jsonl."""
    rebuilt = text_model.fit(text_model.load_training())
    assert rebuilt.version == bundled.version and rebuilt.n_train == bundled.n_train == 103
    assert rebuilt.temperature == bundled.temperature
    for e in text_model.load_training()[::7]:
        a, _ = rebuilt.predict(e.text)
        b, _ = bundled.predict(e.text)
        assert max(abs(a[t] - b[t]) for t in a) < 1e-3


def test_training_data_is_every_real_labelled_abstract():
    examples = text_model.load_training()
    sample = [json.loads(x) for x in (DATA / "kratom_sample.jsonl").read_text(encoding="utf-8").splitlines() if x]
    assert len(examples) == len(sample) + 30
    assert {DESIGN_TIER[e.design].value for e in examples} >= {"trial", "observational", "anecdotal", "preclinical",
                                                                 "secondary", "opinion_other"}


def test_hand_rolled_features_equal_scikit_learn(bundled):
    """Prediction is a few numpy lines; they must compute what TfidfVectorizer would."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    examples = text_model.load_training()
    vec = TfidfVectorizer(analyzer=text_model.analyse, min_df=2, sublinear_tf=True)
    vec.fit([e.text for e in examples])
    text = examples[5].text
    want = vec.transform([text]).toarray()[0]
    cols, w = bundled.features(text)
    got = np.zeros(len(vec.vocabulary_))
    terms = sorted(bundled.vocabulary, key=bundled.vocabulary.get)
    for j, x in zip(cols, w):
        got[vec.vocabulary_[terms[j]]] = x
    assert np.allclose(got, want, atol=1e-5)


def test_json_round_trip(bundled):
    again = text_model.from_text(text_model.dumps(bundled), "test")
    text = text_model.load_training()[0].text
    assert again.predict(text) == bundled.predict(text) and again.version == bundled.version


def test_a_bad_model_file_is_refused(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text('{"format": 99}', encoding="utf-8")
    with pytest.raises(Exception, match="not a design model file"):
        text_model.load(bad)
    with pytest.raises(Exception, match="no design model"):
        text_model.load(tmp_path / "missing.json")


def test_grouped_folds_keep_an_authors_papers_together():
    examples = text_model.load_training()
    folds = text_model.folds(examples)
    assert sorted(i for f in folds for i in f) == list(range(len(examples)))
    where = {i: k for k, f in enumerate(folds) for i in f}
    by_group: dict[str, set[int]] = {}
    for i, e in enumerate(examples):
        by_group.setdefault(e.group, set()).add(where[i])
    assert all(len(ks) == 1 for ks in by_group.values())
    assert text_model.folds(examples) == folds  # deterministic


def test_a_title_alone_never_lets_the_model_decide(bundled):
    """A single word can push normalised TF-IDF to any certainty: the model must read enough first."""
    d = classify(rec("Mitragynine"))
    assert (d.design, d.tier) == ("unclassified", Tier.UNCLASSIFIED)
    assert "not enough to decide" in " ".join(d.reasons) and needs_review(d)


def test_unclassified_reasons_show_what_the_model_thought(bundled):
    text = ("Kratom is a tree native to Southeast Asia whose leaves are chewed or brewed. " * 3
            + "Its legal status differs between countries and has changed over time in several of them.")
    design, strength = decide_rules(rec("Kratom", text))
    assert strength == 0
    d = combine(design, strength, bundled, text_model.model_text("Kratom", text))
    assert (d.design, d.tier) == ("unclassified", Tier.UNCLASSIFIED)
    assert d.reasons[0] == "no design signal in publication types, MeSH or text"
    assert d.reasons[1].startswith("not sure enough to decide") and bundled.version in d.reasons[1]
    assert "words:" in d.reasons[1]


def test_the_model_decides_only_when_sure_and_names_its_words(bundled):
    """A real labelled abstract with no rule signal (a guide for providers) and a model trained on it."""
    rows = [json.loads(x) for x in text_model.TRAINING.read_text(encoding="utf-8").splitlines() if x]
    silent = [r for r in rows if decide_rules(rec(r["title"], r.get("abstract") or ""))[1] == 0
              and r.get("abstract") and len(bundled.features(text_model.model_text(r["title"], r["abstract"]))[0])
              >= MIN_TERMS]
    assert silent, "expected real abstracts on which no rule fires"
    for r in silent:
        d = classify(rec(r["title"], r["abstract"]))
        tiers, _ = bundled.predict(text_model.model_text(r["title"], r["abstract"]))
        if max(tiers.values()) >= 0.85:
            assert d.tier.value == max(tiers, key=tiers.get) and "decided by the model" in d.reasons[0]
            assert d.confidence == round(max(tiers.values()), 2)
        else:
            assert d.tier is Tier.UNCLASSIFIED


def test_weak_rule_backed_by_the_model_keeps_the_rules_design(bundled):
    text = ("Forty opiate-dependent inpatients undergoing detoxification were compared on withdrawal severity, "
            "retention and adverse events; the two treatment groups did not differ at baseline. Withdrawal "
            "scores were recorded daily by nurses blind to medication, and completion of detoxification was "
            "the primary outcome of the comparison between lofexidine and clonidine.")
    title = "Lofexidine versus clonidine for opiate detoxification"
    design, strength = decide_rules(rec(title, text))
    assert design.tier is Tier.TRIAL and strength == 2  # a weak signal on its own
    d = classify(rec(title, text))
    tiers, _ = bundled.predict(text_model.model_text(title, text))
    assert max(tiers, key=tiers.get) == "trial"
    assert d.design == design.design and d.tier is Tier.TRIAL
    assert any(r.startswith("backed by the model") for r in d.reasons) and not needs_review(d)
    weak_alone = combine(design, strength, text_model.fit([e for e in text_model.load_training()
                                                          if DESIGN_TIER[e.design] is not Tier.TRIAL]),
                         text_model.model_text(title, text))
    # A model that never saw a trial cannot back the weak trial signal: a person decides (or the model, if sure).
    assert weak_alone.tier is not Tier.TRIAL


def test_rules_only_never_consult_the_model():
    d = classify(rec("Mitragynine"), rules_only=True)
    assert d.design == "unclassified" and not any("model" in r for r in d.reasons)


# --- principles behind the issue-10 rules --------------------------------------------------------------

PLAN = ("Kratom is widely used to self-treat opioid withdrawal. Participants will receive kratom tea or placebo "
        "for 7 days. Withdrawal severity will be measured with the COWS each morning.")


def test_planned_work_without_results_is_a_registration():
    d = classify(rec("Kratom tea for opioid withdrawal: an open-label pilot study", PLAN))
    assert d.design == "trial_registration" and d.tier is Tier.OPINION_OTHER
    assert any("planned work" in r for r in d.reasons)


def test_a_trial_that_reports_results_is_not_a_plan():
    done = PLAN + " Results: withdrawal scores were significantly lower with kratom (p < 0.01)."
    assert planned_work(done) is None
    assert planned_work(PLAN) is not None
    assert planned_work("Further trials will be needed.") is None  # one statement is not a plan


def test_mesh_software_paper_and_organism_free_indexing():
    tool = classify(rec("A parser for PDB files", "We describe it.",
                        mesh=tuple(MeshHeading(m) for m in ("Software", "Programming Languages", "Databases, Protein"))))
    assert tool.design == "other" and "software or methods paper" in tool.reasons[0]
    molecule = classify(rec("EPR of a flavocytochrome", "Spectra are reported.",
                            mesh=tuple(MeshHeading(m) for m in ("Heme", "Flavins", "Protein Conformation"))))
    assert molecule.design == "in_vitro"
    person = classify(rec("EPR of a flavocytochrome", "Spectra are reported.",
                          mesh=tuple(MeshHeading(m) for m in ("Humans", "Heme", "Flavins"))))
    assert person.design != "in_vitro"


@pytest.mark.parametrize("title, abstract, tier", [
    ("Methadone taper length", "Forty heroin addicts were assigned to a 10-day or a 21-day methadone taper.", "trial"),
    ("Buprenorphine pharmacology", "Buprenorphine (1, 2, 4, 8 and 16 mg) was given to opioid-dependent volunteers.",
     "trial"),
    ("Relapse after detoxification", "Patients were re-interviewed 6 months after discharge from the ward.",
     "observational"),
    ("Kratom deaths", "Deaths were identified from state death certificate records between 2011 and 2019.",
     "observational"),
    ("Kratom and the heart", "Human induced pluripotent stem cell-derived cardiomyocytes were exposed to mitragynine.",
     "preclinical"),
    ("Kratom hepatitis", "The prevalence of kratom use is rising. A man in his 40s presented with jaundice.",
     "anecdotal"),
])
def test_general_signals_of_issue_10(title, abstract, tier):
    assert classify(rec(title, abstract)).tier.value == tier


def test_nothing_fired_is_never_opinion():
    """No record anywhere gets opinion_other (or any tier) because nothing fired."""
    rows = [json.loads(x) for name in ("handwritten.jsonl", "handwritten_heldout.jsonl", "handwritten_heldout2.jsonl")
            for x in (DATA / name).read_text(encoding="utf-8").splitlines() if x]
    from review.classify import record_from_mapping

    for row in rows:
        d = classify(record_from_mapping(row["record"], row["id"]))
        if d.tier is not Tier.UNCLASSIFIED:
            assert not d.reasons[0].startswith(("no design signal", "no title")), (row["id"], d.reasons)


# --- retraining in a review -------------------------------------------------------------------------

def test_retrain_uses_confirmed_designs_and_relabels(tmp_path):
    store = Store.open(tmp_path / "s.sqlite")
    replay(ROOT / "sample" / "searches", store)
    first = classify_store(store)
    assert first.retrained is None and active_model(store)[1] is None
    bundled_version = label_version(store)
    ids = [rid for rid, _ in store.iter_records()][:10]
    for n, rid in enumerate(ids):
        assert not due_for_retraining(store)
        override(store, rid, "case_report" if n % 2 else "cohort", reviewer="alice", reason="full text read")
    assert due_for_retraining(store)
    second = classify_store(store)  # ten new confirmed designs: refit first, then classify everything again
    assert second.retrained is not None and second.retrained.n_confirmed == 10
    assert "retrained the design model" in second.line()
    model, row = active_model(store)
    assert row is not None and model.n_confirmed == 10 and model.version == second.retrained.version
    assert label_version(store) != bundled_version and second.classified == first.classified
    assert not due_for_retraining(store)
    designs = store.designs()
    assert all(designs[rid].confirmed_by == "alice" for rid in ids)  # a confirmed label still wins
    assert classify_store(store).classified == 0  # the retrained model's labels are current
