"""Abstract hints: sample size, country, trial features, doses, comparators (hand-written text)."""
from review.extract import comparators, country, doses, sample_size, trial_features


def test_sample_size_takes_the_largest_plausible_count():
    text = ("In 2019 we surveyed 2,798 adults who used kratom; 412 respondents reported opioid use. "
            "Participants were aged 35 years on average and took 5 g doses.")
    assert sample_size(text).value == "2798"
    assert sample_size("A cohort (n = 57) was followed for 12 months.").value == "57"
    assert sample_size("Two patients presented with seizures.").value == "2"
    assert sample_size("Mice received 10 mg/kg mitragynine for 14 days.") is None
    assert sample_size("") is None


def test_country_and_aliases():
    assert country("A survey of kratom users in the USA and Canada.").value == "United States"
    assert country("Data from poison centres in Florida.").value == "United States"
    assert country("Villages in southern Thailand.").value == "Thailand"
    assert country("No place named here.") is None


def test_trial_features_doses_and_comparators():
    text = ("A randomised, double-blind, placebo-controlled crossover trial gave 20 mg or 40 mg of "
            "mitragynine versus placebo and morphine 10 mg to 12 healthy volunteers (phase I).")
    assert trial_features(text) == ["randomized", "double-blind", "placebo-controlled", "crossover", "phase 1"]
    assert doses(text) == ["20 mg", "40 mg", "10 mg"]
    assert comparators(text) == ["placebo", "morphine"]
    assert trial_features("An open-label, single-arm study.") == ["open-label", "single-arm"]
