"""Publication types and MeSH headings as design signals: tables as data, looked up per record."""
from __future__ import annotations

import re
from dataclasses import dataclass

from review.models import MeshHeading

from .rules import RANK
from .text import Cue

OBSERVATIONAL = ("cohort", "case_control", "cross_sectional_survey", "registry_or_poison_center")
TRIALS = ("rct", "controlled_trial_nonrandomized", "uncontrolled_trial")
REVIEWS = ("narrative_review", "systematic_review", "meta_analysis")


@dataclass(frozen=True)
class PubTypeRule:
    """Publication types that fix the tier; text and MeSH may only choose among `allowed` designs."""

    names: frozenset[str]  # normalised publication-type strings
    default: str
    allowed: tuple[str, ...]
    mesh_may_override: bool = False  # letters etc.: a MeSH study-design term shows it reports a study
    self_report: bool = False


def _pt(names: str, default: str, allowed: tuple[str, ...] = (), **kw) -> PubTypeRule:
    keys = frozenset(n.strip() for n in names.split("|"))
    return PubTypeRule(keys, default, allowed or (default,), **kw)


# Order is precedence: the first rule any of a record's publication types matches decides.
PUBTYPE_RULES: tuple[PubTypeRule, ...] = (
    _pt("published erratum|erratum|correction|corrigendum|retraction of publication|retraction notice"
        "|expression of concern", "other"),
    _pt("clinical trial protocol|study protocol|trial protocol|protocol|clinical trial registry record"
        "|trial registry record|registry record|trial registration|clinical trial registration"
        "|registered trial|clinical trial record", "trial_registration"),
    _pt("meta-analysis|meta analysis|network meta-analysis|systematic review and meta-analysis",
        "meta_analysis"),
    _pt("systematic review|scoping review|umbrella review|systematic literature review", "systematic_review",
        ("systematic_review", "meta_analysis")),
    _pt("randomized controlled trial, veterinary|clinical trial, veterinary|observational study, veterinary",
        "animal"),
    _pt("randomized controlled trial|randomised controlled trial|pragmatic clinical trial|equivalence trial"
        "|adaptive clinical trial", "rct"),
    _pt("controlled clinical trial|non-randomized controlled trial|nonrandomized controlled trial",
        "controlled_trial_nonrandomized", ("controlled_trial_nonrandomized", "rct")),
    _pt("clinical trial|clinical trial, phase i|clinical trial, phase ii|clinical trial, phase iii"
        "|clinical trial, phase iv|clinical study|clinical trial, phase i/ii", "uncontrolled_trial", TRIALS),
    _pt("case series", "case_series", ("case_series", "case_report")),
    _pt("case reports|case report|case study|clinical case|case presentation", "case_report",
        ("case_report", "case_series")),
    _pt("personal narrative|personal narratives", "case_report", ("case_report", "qualitative"),
        self_report=True),
    _pt("observational study|twin study", "cohort", OBSERVATIONAL),
    _pt("review|review literature|literature review|narrative review|mini review|minireview|short survey"
        "|conference review|study guide", "narrative_review", REVIEWS),
    _pt("letter|comment|editorial|news|newspaper|practice guideline|guideline|consensus development conference"
        "|consensus development conference, nih|interview|lecture|address|biography|portrait"
        "|editorial material|note|news item|commentary|opinion|viewpoint|perspective|correspondence|reply"
        "|discussion|book review|meeting report", "editorial_commentary", mesh_may_override=True),
    _pt("historical article|dataset|data paper|legal case|legislation|patient education handout"
        "|video-audio media|webcast|technical report", "other"),
)
_BY_NAME = {name: rule for rule in PUBTYPE_RULES for name in rule.names}
_ORDER = {id(rule): i for i, rule in enumerate(PUBTYPE_RULES)}
# Types noted in the reasons because the text then decides.
CONFERENCE_TYPES = frozenset({"conference abstract", "conference paper", "meeting abstract", "proceedings paper",
                              "congress", "conference proceeding"})

_PAREN = re.compile(r"\s*\([^)]*\)")
_SPACE = re.compile(r"\s+")


def normalise_pubtype(value: str) -> str:
    """'Review Article' -> 'review'; 'Clinical trial registry record (NCT...)' -> 'clinical trial registry record'."""
    s = _SPACE.sub(" ", _PAREN.sub(" ", value.lower())).strip(" .;")
    if s.endswith(" article") and s != "journal article":
        s = s[: -len(" article")]
    return s


def pubtype_rule(publication_types: tuple[str, ...]) -> tuple[PubTypeRule, str] | None:
    """The deciding publication-type rule and the type string that matched it, if any."""
    best: tuple[PubTypeRule, str] | None = None
    for raw in publication_types:
        rule = _BY_NAME.get(normalise_pubtype(raw))
        if rule is not None and (best is None or _ORDER[id(rule)] < _ORDER[id(best[0])]):
            best = (rule, raw)
    return best


def conference_type(publication_types: tuple[str, ...]) -> str | None:
    """A conference-abstract type string, if the record has one."""
    for raw in publication_types:
        if normalise_pubtype(raw) in CONFERENCE_TYPES:
            return raw
    return None


# MeSH descriptors indexed *for the article itself* (study-design check tags and methods).
# "... as Topic" headings are about the subject, not the design, and are deliberately absent.
MESH_DESIGN: dict[str, tuple[str, int]] = {
    "Cross-Sectional Studies": ("cross_sectional_survey", 6),
    "Health Surveys": ("cross_sectional_survey", 5),
    "Surveys and Questionnaires": ("cross_sectional_survey", 4),
    "Case-Control Studies": ("case_control", 6),
    "Cohort Studies": ("cohort", 6),
    "Longitudinal Studies": ("cohort", 6),
    "Prospective Studies": ("cohort", 5),
    "Retrospective Studies": ("cohort", 4),
    "Follow-Up Studies": ("cohort", 4),
    "Poison Control Centers": ("registry_or_poison_center", 6),
    "Adverse Drug Reaction Reporting Systems": ("registry_or_poison_center", 6),
    "Pharmacovigilance": ("registry_or_poison_center", 6),
    "Coroners and Medical Examiners": ("registry_or_poison_center", 6),
    "Registries": ("registry_or_poison_center", 5),
    "Qualitative Research": ("qualitative", 6),
    "Focus Groups": ("qualitative", 6),
    "Social Media": ("qualitative", 4),
    "Random Allocation": ("rct", 5),
    "Double-Blind Method": ("controlled_trial_nonrandomized", 5),
    "Single-Blind Method": ("controlled_trial_nonrandomized", 5),
    "Cross-Over Studies": ("controlled_trial_nonrandomized", 5),
    "In Vitro Techniques": ("in_vitro", 6),
    "Hep G2 Cells": ("in_vitro", 6),
    "HEK293 Cells": ("in_vitro", 6),
    "Cells, Cultured": ("in_vitro", 5),
    "Cell Line": ("in_vitro", 5),
    "Cell Line, Tumor": ("in_vitro", 5),
    "CHO Cells": ("in_vitro", 5),
    "Microsomes, Liver": ("in_vitro", 5),
    "Disease Models, Animal": ("animal", 6),
}
# Principle: a paper whose indexed subject is a product of computing (software, algorithms, databases) is a
# methods or tools paper, not a study of people, animals or cells.
COMPUTING_MESH = frozenset({"Software", "Programming Languages", "Algorithms", "Database Management Systems",
                            "User-Computer Interface", "Computer Graphics", "Computational Biology"})
# Principle: MEDLINE indexers tag every study of organisms with Humans or Animals; an indexed record with
# neither is about molecules, cells or methods (in vitro work, unless computing headings say a tool).
ORGANISM_CHECK_TAGS = frozenset({"Humans", "Animals"})
SELF_REPORT_MESH = frozenset({"Surveys and Questionnaires", "Health Surveys", "Self Report", "Social Media",
                              "Qualitative Research", "Focus Groups"})
# Whole-animal headings: with these, Animals-without-Humans means an animal study even if cells are indexed.
_WHOLE_ANIMAL = re.compile(r"^(?:Rats|Mice|Zebrafish|Dogs|Macaca|Rabbits|Guinea Pigs|Swine|Cricetinae|Primates"
                           r"|Disease Models, Animal|Behavior, Animal)")


def mesh_cues(mesh: tuple[MeshHeading, ...]) -> list[Cue]:
    """Design cues from MeSH headings (strength 4-6: they outrank most text)."""
    if not mesh:
        return []
    names = {m.descriptor for m in mesh}
    cues = [_cue(design, strength, f"MeSH: {name}", f"mesh {name}", name in SELF_REPORT_MESH)
            for name in names if (hit := MESH_DESIGN.get(name)) for design, strength in (hit,)]
    if "Self Report" in names:
        cues.append(_cue("cross_sectional_survey", 3, "MeSH: Self Report", "mesh Self Report", True))
    computing = sorted(names & COMPUTING_MESH)
    if len(computing) >= 2:
        cues.append(_cue("other", 4, f"MeSH: {', '.join(computing[:3])} (a software or methods paper)",
                         "mesh computing"))
    elif not names & ORGANISM_CHECK_TAGS and len(names) >= 3:
        cues.append(_cue("in_vitro", 3, "MeSH: indexed without a Humans or Animals check tag (molecules, cells "
                                        "or methods)", "mesh no organism"))
    if "Animals" in names and "Humans" not in names:
        cells = any(c.design == "in_vitro" for c in cues)
        whole = any(_WHOLE_ANIMAL.match(n) for n in names)
        strength = 6 if (whole or not cells) else 4
        cues.append(_cue("animal", strength, "MeSH: Animals (without Humans)", "mesh Animals"))
    return cues


def _cue(design: str, strength: int, reason: str, rule: str, self_report: bool = False) -> Cue:
    return Cue(design, strength, reason, rule, self_report, key=(-strength, RANK[design]))
