"""Plain record model shared by every step: frozen dataclasses and enums, no I/O."""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Author:
    """One author: a person (family/given/initials) or a collective name."""

    family: str | None = None
    given: str | None = None
    initials: str | None = None
    collective: str | None = None

    @property
    def display(self) -> str:
        if self.collective:
            return self.collective
        if self.family and (self.initials or self.given):
            return f"{self.family} {self.initials or self.given}"
        return self.family or self.given or ""


@dataclass(frozen=True)
class AbstractSection:
    """One paragraph of an abstract; structured abstracts keep their label."""

    text: str
    label: str | None = None
    category: str | None = None  # NLM category: BACKGROUND, METHODS, ...


@dataclass(frozen=True)
class MeshHeading:
    descriptor: str
    major: bool = False
    ui: str | None = None
    qualifiers: tuple[tuple[str, bool], ...] = ()  # (qualifier name, major topic)


@dataclass(frozen=True)
class Record:
    """A bibliographic record as one source gave it. Values are as found, never normalised."""

    source: str  # database or file source, e.g. "pubmed", "embase"
    source_id: str  # id within that source (PMID for PubMed, AN or generated for exports)
    pmid: str | None = None
    doi: str | None = None
    pmcid: str | None = None
    title: str | None = None
    abstract: tuple[AbstractSection, ...] = ()
    authors: tuple[Author, ...] = ()
    journal: str | None = None
    journal_iso: str | None = None
    year: int | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    language: tuple[str, ...] = ()
    publication_types: tuple[str, ...] = ()
    mesh: tuple[MeshHeading, ...] = ()
    keywords: tuple[str, ...] = ()
    entry_date: str | None = None  # ISO date the record entered the database
    pub_date: str | None = None  # publication date as given (ISO where possible)
    kind: str = "journal-article"  # journal-article | book-article | book | conference | other
    vernacular_title: str | None = None
    deleted: bool = False  # PubMed DeleteCitation

    @property
    def abstract_text(self) -> str:
        """The abstract as plain text, structured sections as 'LABEL: text'."""
        return "\n".join(
            f"{s.label}: {s.text}" if s.label else s.text for s in self.abstract
        )

    @property
    def first_author(self) -> str | None:
        return self.authors[0].display if self.authors else None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (nested dataclasses as dicts); ~10x faster than dataclasses.asdict."""
        d = dict(vars(self))
        d["abstract"] = [dict(vars(s)) for s in self.abstract]
        d["authors"] = [dict(vars(a)) for a in self.authors]
        d["mesh"] = [dict(vars(m)) for m in self.mesh]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Record":
        d = dict(data)
        d["abstract"] = tuple(AbstractSection(**s) for s in d.get("abstract") or ())
        d["authors"] = tuple(Author(**a) for a in d.get("authors") or ())
        d["mesh"] = tuple(
            MeshHeading(
                descriptor=m["descriptor"],
                major=m.get("major", False),
                ui=m.get("ui"),
                qualifiers=tuple(tuple(q) for q in m.get("qualifiers") or ()),
            )
            for m in d.get("mesh") or ()
        )
        for key in ("language", "publication_types", "keywords"):
            d[key] = tuple(d.get(key) or ())
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    def content_hash(self, as_json: str | None = None) -> str:
        """Hash of the content, to tell a changed record from an unchanged one."""
        return hashlib.sha256((as_json or self.to_json()).encode("utf-8")).hexdigest()[:16]


# The second and later copies of one accession in one export keep their own record (each is a
# record identified, PRISMA 2020) under the accession plus this mark; dedupe merges them back.
_REPEAT = " (repeat "


def repeated_id(source_id: str, n: int) -> str:
    """The id of the n-th copy (n >= 2) of one accession within one export."""
    return f"{source_id}{_REPEAT}{n})"


def accession_of(source_id: str) -> str:
    """The database's accession behind a source_id (strips the repeat mark)."""
    if source_id.endswith(")") and _REPEAT in source_id:
        head, _, tail = source_id.rpartition(_REPEAT)
        if tail[:-1].isdigit():
            return head
    return source_id


class SourceType(str, enum.Enum):
    """PRISMA 2020 distinguishes databases, registers and other methods."""

    DATABASE = "database"
    REGISTER = "register"
    OTHER = "other"


class RunKind(str, enum.Enum):
    SEARCH = "search"
    IMPORT = "import"


@dataclass(frozen=True)
class Strategy:
    """A saved search strategy from queries/*.yaml."""

    name: str
    query: str
    database: str = "pubmed"
    description: str = ""
    mindate: str | None = None
    maxdate: str | None = None
    datetype: str = "pdat"
    path: str | None = None
    limits: tuple[str, ...] = field(default=())


class Tier(str, enum.Enum):
    TRIAL = "trial"
    OBSERVATIONAL = "observational"
    ANECDOTAL = "anecdotal"
    PRECLINICAL = "preclinical"
    SECONDARY = "secondary"
    OPINION_OTHER = "opinion_other"
    # No signal decided, or the signals were too weak to trust: a person must say. Never folded into
    # opinion_other, so a trial the classifier could not read does not vanish from the trial counts.
    UNCLASSIFIED = "unclassified"


# Design -> tier, as the review team labels them (see kratom_sample/README.md).
DESIGN_TIER: dict[str, Tier] = {
    "rct": Tier.TRIAL,
    "controlled_trial_nonrandomized": Tier.TRIAL,
    "uncontrolled_trial": Tier.TRIAL,
    "cohort": Tier.OBSERVATIONAL,
    "case_control": Tier.OBSERVATIONAL,
    "cross_sectional_survey": Tier.OBSERVATIONAL,
    "registry_or_poison_center": Tier.OBSERVATIONAL,
    "case_report": Tier.ANECDOTAL,
    "case_series": Tier.ANECDOTAL,
    "qualitative": Tier.ANECDOTAL,
    "animal": Tier.PRECLINICAL,
    "in_vitro": Tier.PRECLINICAL,
    "systematic_review": Tier.SECONDARY,
    "meta_analysis": Tier.SECONDARY,
    "narrative_review": Tier.SECONDARY,
    "editorial_commentary": Tier.OPINION_OTHER,
    "trial_registration": Tier.OPINION_OTHER,
    "other": Tier.OPINION_OTHER,
    "unclassified": Tier.UNCLASSIFIED,
}
UNCLASSIFIED = "unclassified"  # the design (and tier) of a record no signal decided
# Designs a person (or the classifier) can assert; "unclassified" is the absence of one.
DESIGNS: tuple[str, ...] = tuple(d for d in DESIGN_TIER if d != UNCLASSIFIED)
LABELLED_TIERS: tuple[str, ...] = tuple(t.value for t in Tier if t is not Tier.UNCLASSIFIED)

# How tiers are named in tables, plots and the PRISMA evidence table.
TIER_LABELS: dict[str, str] = {
    "trial": "Trial data (human experimental)",
    "observational": "Observational (surveys, cohorts, registries)",
    "anecdotal": "Anecdotal (case reports, series, forum posts)",
    "preclinical": "Preclinical (animal, in vitro)",
    "secondary": "Secondary (reviews)",
    "opinion_other": "Opinion and other",
    "unclassified": "Not yet classified",
}


@dataclass(frozen=True)
class Design:
    """A study design decision with the reasons that decided it."""

    design: str
    tier: Tier
    confidence: float
    reasons: tuple[str, ...] = ()
    self_reported: bool = False
    confirmed_by: str | None = None  # the person whose label this is; None for the classifier's suggestion

    @property
    def tier_source(self) -> str:
        """How every table says where a tier came from."""
        return "person-confirmed" if self.confirmed_by else "machine-suggested"
