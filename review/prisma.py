"""PRISMA 2020 counts computed from stored states, their consistency checks, and the report tables.

Nothing here is typed in: every box is counted from the store (runs and the records they found,
duplicate clusters, the screening history, report-to-study links), one row per identified record
(``record_states``), then summed per arm (``prisma_counts``). How each box is computed is written
out in docs/prisma.md. The arithmetic of the flow is checked, and any record whose state does not
fit the flow (an open conflict, a full-text decision on a record excluded at title/abstract, a
record no search found) is reported by id instead of being counted somewhere.

Arms: a record belongs to the databases/registers arm when a database or register run found it,
else to the other-methods arm; after deduplication a cluster belongs to the databases/registers
arm when any of its members does (PRISMA counts a study once, where it was first identifiable).
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from review import extract
from review.errors import InputError, ReviewError
from review.models import TIER_LABELS, Tier

DBR = "databases_registers"
OTHER = "other_methods"
ARMS = (DBR, OTHER)
ARM_LABELS = {DBR: "databases and registers", OTHER: "other methods"}

# Full-text exclusions with one of these reasons count as "reports not retrieved", not as excluded.
NOT_RETRIEVED_REASONS = ("not retrievable", "not retrieved", "report not retrieved", "full text not available",
                         "full text not retrieved", "could not be retrieved")
NO_REASON = "Reason not recorded"

# PRISMA's three kinds of other methods, told apart by words in the source name; anything else is a website.
OTHER_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("citations", ("citation", "snowball", "reference", "hand_search", "handsearch", "backward", "forward")),
    ("organisations", ("organisation", "organization", "agency", "agencies", "manufacturer", "institution")),
)
CATEGORY_LABELS = {"database": "Databases", "register": "Registers", "websites": "Websites",
                   "organisations": "Organisations", "citations": "Citation searching"}

# How well-known sources are written in a report; any other source name is shown as given.
SOURCE_NAMES = {
    "pubmed": "PubMed", "medline": "MEDLINE", "embase": "Embase", "scopus": "Scopus", "wos": "Web of Science",
    "web_of_science": "Web of Science", "psycinfo": "APA PsycInfo", "cinahl": "CINAHL", "cochrane": "Cochrane Library",
    "central": "Cochrane CENTRAL", "lilacs": "LILACS", "google_scholar": "Google Scholar",
    "clinicaltrials": "ClinicalTrials.gov", "clinicaltrials_gov": "ClinicalTrials.gov", "ctgov": "ClinicalTrials.gov",
    "ictrp": "WHO ICTRP", "who_ictrp": "WHO ICTRP", "euctr": "EU Clinical Trials Register", "ctis": "EU CTIS",
    "anzctr": "ANZCTR", "isrctn": "ISRCTN",
}



# ===================================================================== result types

@dataclass(frozen=True)
class Stamp:
    """What an export reflects: the store, how current its data are, the latest run and decision."""

    store: str
    as_of: str | None
    latest_run: str | None
    latest_decision: int | None = None

    def line(self) -> str:
        s = f"store {self.store}; data as of {self.as_of or 'no data yet'}; latest run {self.latest_run or 'none'}"
        if self.latest_decision is not None:
            s += f"; latest screening decision #{self.latest_decision}"
        return s


@dataclass(frozen=True)
class SourceCount:
    """Records one source contributed (before deduplication), with when it was searched or imported."""

    source: str
    name: str
    source_type: str  # database | register | other
    category: str  # database | register | websites | organisations | citations
    records: int
    runs: int = 0
    first_date: str | None = None
    last_date: str | None = None
    searched: bool = True  # False: only imported from an export file (the date is the import date)

    @property
    def date_text(self) -> str:
        if not self.last_date:
            return ""
        verb = "searched" if self.searched else "imported"
        if self.first_date and self.first_date != self.last_date:
            return f"{verb} {self.first_date} to {self.last_date}"
        return f"{verb} {self.last_date}"


@dataclass(frozen=True)
class ArmCounts:
    """Every box of one arm of the flow (see docs/prisma.md for how each is computed)."""

    arm: str
    identified: int = 0
    sources: tuple[SourceCount, ...] = ()
    duplicates: int = 0
    duplicates_of_dbr: int = 0  # other arm only: duplicates of records found in databases/registers
    automatic: int = 0
    removed_other: int = 0
    awaiting_screening: int = 0
    screening_conflicts: int = 0
    screened: int = 0
    screen_excluded: int = 0
    screen_reasons: tuple[tuple[str, int], ...] = ()
    sought: int = 0
    not_retrieved: int = 0
    awaiting_assessment: int = 0
    assessment_conflicts: int = 0
    assessed: int = 0
    excluded: int = 0
    exclusion_reasons: tuple[tuple[str, int], ...] = ()
    included_reports: int = 0
    included_studies: int = 0

    def by_category(self, category: str) -> int:
        return sum(s.records for s in self.sources if s.category == category)

    @property
    def removed_before_screening(self) -> int:
        return self.duplicates + self.automatic + self.removed_other


@dataclass(frozen=True)
class Check:
    """One equation of the flow, evaluated; record_ids name the records that break it."""

    arm: str
    name: str
    equation: str
    left: int
    right: int
    record_ids: tuple[int, ...] = ()
    terms: str = ""  # the left side with its numbers, e.g. "27 - 3 - 0 - 1 - 2"

    @property
    def ok(self) -> bool:
        return self.left == self.right and not self.record_ids


@dataclass(frozen=True)
class Problem:
    """Records whose stored state does not fit the flow, and what to do about them."""

    kind: str
    message: str
    hint: str
    record_ids: tuple[int, ...]


@dataclass(frozen=True)
class PrismaCounts:
    """All PRISMA 2020 numbers of a review, the checks and the problems (the notebook API)."""

    stamp: Stamp
    dbr: ArmCounts
    other: ArmCounts
    new_studies: int
    new_reports: int
    checks: tuple[Check, ...] = ()
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems and all(c.ok for c in self.checks)

    @property
    def problem_record_ids(self) -> tuple[int, ...]:
        return tuple(sorted({i for p in self.problems for i in p.record_ids}))

    @property
    def has_other_methods(self) -> bool:
        return self.other.identified > 0

    def arm(self, name: str) -> ArmCounts:
        return self.dbr if name == DBR else self.other

    def boxes(self) -> dict[str, int | str]:
        """PRISMA2020 template key -> n, as the R package and Shiny app read it."""
        d, o = self.dbr, self.other
        return {
            "previous_studies": 0, "previous_reports": 0,
            "database_results": d.by_category("database"),
            "database_specific_results": _pairs_text((s.name, s.records) for s in d.sources
                                                     if s.category == "database"),
            "register_results": d.by_category("register"),
            "register_specific_results": _pairs_text((s.name, s.records) for s in d.sources
                                                     if s.category == "register"),
            "website_results": o.by_category("websites"), "organisation_results": o.by_category("organisations"),
            "citations_results": o.by_category("citations"),
            "duplicates": d.duplicates, "excluded_automatic": d.automatic, "excluded_other": d.removed_other,
            "records_screened": d.screened, "records_excluded": d.screen_excluded,
            "dbr_sought_reports": d.sought, "dbr_notretrieved_reports": d.not_retrieved,
            "other_sought_reports": o.sought, "other_notretrieved_reports": o.not_retrieved,
            "dbr_assessed": d.assessed, "dbr_excluded": _pairs_text(d.exclusion_reasons),
            "other_assessed": o.assessed, "other_excluded": _pairs_text(o.exclusion_reasons),
            "new_studies": self.new_studies, "new_reports": self.new_reports,
            "total_studies": self.new_studies, "total_reports": self.new_reports,
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        d["prisma2020"] = self.boxes()
        for c, cd in zip(self.checks, d["checks"]):
            cd["ok"] = c.ok
        return d

    def to_frame(self) -> pd.DataFrame:
        """The same numbers as a tidy table: arm, stage, key, label, n, PRISMA2020 row fed."""
        return pd.DataFrame(tidy_rows(self), columns=TIDY_COLUMNS)


def _clean_name(text: str) -> str:
    """A name safe inside 'Name, n; Name, n' (the R package splits on ';' and takes the text before ',')."""
    return re.sub(r"\s*[,;]\s*", " / ", " ".join(str(text).split())).strip(" /") or "unnamed"


def _pairs_text(pairs: Iterable[tuple[str, int]]) -> str:
    items = [f"{_clean_name(name)}, {n}" for name, n in pairs]
    return "; ".join(items) if items else "0"


# ===================================================================== adapter over screening

@dataclass(frozen=True)
class ScreenState:
    """Where one canonical record stands, in PRISMA's terms."""

    ta: str  # awaiting | conflict | excluded | forwarded | unknown
    ta_reason: str | None
    ft: str  # not_due | awaiting | conflict | not_retrieved | excluded | included | unknown
    ft_reason: str | None
    stray_full_text: bool = False  # full-text decisions stored although the record is not due there


_TA = {"undecided": "awaiting", "pending": "awaiting", "conflict": "conflict", "exclude": "excluded",
       "include": "forwarded", "maybe": "forwarded"}
_FT = {"not_due": "not_due", "undecided": "awaiting", "pending": "awaiting", "conflict": "conflict",
       "include": "included", "exclude": "excluded"}


def _fold(text: str | None) -> str:
    return " ".join(str(text or "").split()).casefold()


def screening_states(store, config=None,
                     not_retrieved: Sequence[str] = NOT_RETRIEVED_REASONS) -> dict[int, ScreenState]:
    """canonical record id -> ScreenState. The one place that reads the screening module's statuses."""
    from review.screening import FULL_TEXT, TITLE_ABSTRACT, ScreeningConfig, current_status

    df = current_status(store, config or ScreeningConfig())
    gone = {_fold(r) for r in not_retrieved}
    # Full-text rows in the current round (after the latest re-open at either stage), per canonical record:
    # the statuses ignore them when the record is not due at full text, so they are looked for here.
    dup = store.duplicate_of()
    start: dict[int, int] = {}
    ft_rows: dict[int, list[int]] = {}
    for r in store.screening_history():
        rid = dup.get(r["record_id"], r["record_id"])
        if r["kind"] == "reopen" and r["stage"] in (TITLE_ABSTRACT, FULL_TEXT):
            start[rid] = max(start.get(rid, 0), r["decision_id"])
        elif r["stage"] == FULL_TEXT:
            ft_rows.setdefault(rid, []).append(r["decision_id"])
    # `review fulltext` results: a record sought whose latest look-up found no full text, and that no reviewer
    # has assessed anyway, is a report not retrieved (its reason is the look-up's).
    lookups = store.latest_fulltexts()
    out: dict[int, ScreenState] = {}
    for row in df.itertuples(index=False):
        rid = int(row.record_id)
        ft = _FT.get(row.ft_status, "unknown")
        ft_reason = _none(row.ft_reason)
        if ft == "excluded" and _fold(row.ft_reason) in gone:
            ft = "not_retrieved"
        elif ft == "awaiting" and lookups.get(rid, {}).get("status") == "not_retrieved":
            ft, ft_reason = "not_retrieved", "not retrieved: " + str(lookups[rid]["reason"] or "")
        stray = any(i > start.get(rid, 0) for i in ft_rows.get(rid, ()))
        out[rid] = ScreenState(_TA.get(row.ta_status, "unknown"), _none(row.ta_reason), ft, ft_reason,
                               stray and ft == "not_due")
    return out


def _none(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and value != value) or value is pd.NA else value


# ===================================================================== per-record states (pure)

STATE_COLUMNS = ["record_id", "source", "source_type", "category", "arm", "removed", "duplicate_in", "canonical_id",
                 "ta", "ta_reason", "ft", "ft_reason", "stray_full_text", "study_id"]
_STRENGTH = {"database": 0, "register": 1, "other": 2}


def source_type_of(types: Iterable[str]) -> str:
    """database if any run that found the record searched a database, else register, else other."""
    known = [t for t in types if t in _STRENGTH]
    return min(known, key=_STRENGTH.__getitem__) if known else "other"


def other_category(source: str) -> str:
    """websites | organisations | citations for a source of type other, by words in its name."""
    name = _fold(source).replace(" ", "_").replace("-", "_")
    for category, words in OTHER_CATEGORIES:
        if any(w in name for w in words):
            return category
    return "websites"


def display_name(source: str) -> str:
    """'pubmed' -> 'PubMed'; an unknown name as given, underscores as spaces ('article_pages' -> 'Article pages')."""
    known = SOURCE_NAMES.get(_fold(source).replace(" ", "_").replace("-", "_"))
    if known:
        return known
    text = " ".join(source.replace("_", " ").split())
    return text[:1].upper() + text[1:] if text.islower() else text


def resolve_studies(links: Mapping[int, int], duplicate_of: Mapping[int, int]) -> tuple[dict[int, int], list[Problem]]:
    """record -> the study it reports (following chains, through duplicates); cycles are problems."""
    canon = {duplicate_of.get(r, r): duplicate_of.get(s, s) for r, s in links.items()}
    out: dict[int, int] = {}
    cyclic: set[int] = set()
    for rid in canon:
        seen, cur = [rid], canon[rid]
        while cur in canon and cur not in seen:
            seen.append(cur)
            cur = canon[cur]
        if cur in seen and cur in canon:
            cyclic.update(seen)
            continue
        out[rid] = cur
    problems = []
    if cyclic:
        problems.append(Problem("study_link_cycle", "report-to-study links that go round in a circle",
                                "unlink them (review prisma unlink-reports) and link each report to one study",
                                tuple(sorted(cyclic))))
    return {r: s for r, s in out.items() if r != s}, problems


def record_states(identified: Iterable[Mapping[str, Any]], clusters: Mapping[int, tuple[int, Sequence[int]]],
                  screening: Mapping[int, ScreenState], study_of: Mapping[int, int]) -> pd.DataFrame:
    """One row per identified record: its arm, whether it was removed before screening, and where its
    deduplicated record stands (on the row of the one member that stands for it in its arm)."""
    info: dict[int, dict[str, Any]] = {}
    for r in identified:
        d = info.setdefault(int(r["record_id"]), {"source": r["source"], "deleted": bool(r["deleted"]), "types": set()})
        d["types"].add(r["source_type"])
    for d in info.values():
        d["type"] = source_type_of(d["types"])
        d["arm"] = DBR if d["type"] in ("database", "register") else OTHER
        d["category"] = d["type"] if d["arm"] == DBR else other_category(d["source"])

    groups: list[tuple[int, list[int]]] = []
    grouped: set[int] = set()
    for primary, members in clusters.values():
        found = [m for m in members if m in info]
        grouped.update(members)
        if found:
            groups.append((primary, found))
    groups += [(rid, [rid]) for rid in info if rid not in grouped]

    rows = []
    for canonical, members in groups:
        live = [m for m in members if not info[m]["deleted"]]
        pool = live or members
        arm = DBR if any(info[m]["arm"] == DBR for m in pool) else OTHER
        rep = min((m for m in live if info[m]["arm"] == arm), default=None)
        for m in members:
            d = info[m]
            row = {"record_id": m, "source": d["source"], "source_type": d["type"], "category": d["category"],
                   "arm": d["arm"], "removed": "deleted" if d["deleted"] else ("" if m == rep else "duplicate"),
                   "duplicate_in": arm if (m != rep and not d["deleted"]) else "", "canonical_id": canonical,
                   "ta": "", "ta_reason": None, "ft": "", "ft_reason": None, "stray_full_text": False,
                   "study_id": None}
            if m == rep:
                st = screening.get(canonical) or ScreenState("unknown", None, "unknown", None)
                row |= {"ta": st.ta, "ta_reason": st.ta_reason, "ft": st.ft if st.ta == "forwarded" else "not_due",
                        "ft_reason": st.ft_reason, "stray_full_text": st.stray_full_text}
                if st.ta == "forwarded" and st.ft in ("not_due", ""):
                    row["ft"] = "unknown"
                if row["ft"] == "included":
                    row["study_id"] = study_of.get(canonical, canonical)
            rows.append(row)
    df = pd.DataFrame(rows, columns=STATE_COLUMNS)
    df["study_id"] = df["study_id"].astype("Int64")
    return df.sort_values("record_id", kind="stable").reset_index(drop=True)


# ===================================================================== counts, checks, problems (pure)

def _reasons(values: Iterable[str | None]) -> tuple[tuple[str, int], ...]:
    counts = Counter((v if v else NO_REASON) for v in values)
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].casefold())))


def count_arm(states: pd.DataFrame, arm: str, sources: Sequence[SourceCount] = ()) -> ArmCounts:
    """Sum one arm's boxes from the per-record states."""
    rows = states[states["arm"] == arm]
    reps = rows[rows["removed"] == ""]
    ta, ft = reps["ta"], reps["ft"]
    excluded_ta = reps[ta == "excluded"]
    excluded_ft = reps[ft == "excluded"]
    included = reps[ft == "included"]
    return ArmCounts(
        arm=arm, identified=len(rows), sources=tuple(s for s in sources if _arm_of_source(s) == arm),
        duplicates=int((rows["removed"] == "duplicate").sum()),
        duplicates_of_dbr=int(((rows["removed"] == "duplicate") & (rows["duplicate_in"] == DBR)).sum())
        if arm == OTHER else 0,
        automatic=0, removed_other=int((rows["removed"] == "deleted").sum()),
        awaiting_screening=int((ta == "awaiting").sum()), screening_conflicts=int((ta == "conflict").sum()),
        screened=int(ta.isin(["excluded", "forwarded"]).sum()), screen_excluded=len(excluded_ta),
        screen_reasons=_reasons(excluded_ta["ta_reason"]) if excluded_ta["ta_reason"].notna().any() else (),
        sought=int((ta == "forwarded").sum()), not_retrieved=int((ft == "not_retrieved").sum()),
        awaiting_assessment=int((ft == "awaiting").sum()), assessment_conflicts=int((ft == "conflict").sum()),
        assessed=int(ft.isin(["excluded", "included"]).sum()), excluded=len(excluded_ft),
        exclusion_reasons=_reasons(excluded_ft["ft_reason"]),
        included_reports=len(included), included_studies=int(included["study_id"].nunique()),
    )


def _arm_of_source(s: SourceCount) -> str:
    return DBR if s.source_type in ("database", "register") else OTHER


def _ids(frame: pd.DataFrame, column: str = "canonical_id") -> tuple[int, ...]:
    return tuple(sorted(int(i) for i in frame[column].unique()))


def arm_checks(states: pd.DataFrame, a: ArmCounts) -> list[Check]:
    """The four equations of PRISMA 2020 for one arm, with the records that break them."""
    reps = states[(states["arm"] == a.arm) & (states["removed"] == "")]
    # Sought as the stored full-text decisions see it: forwarded records plus any decided at full text anyway.
    sought_seen = reps[(reps["ta"] == "forwarded") | reps["stray_full_text"]]

    def check(name, equation, terms, right, ids=()):
        return Check(a.arm, name, equation, terms[0] - sum(terms[1:]), right, tuple(ids),
                     " - ".join(map(str, terms)))

    return [
        check("identified - removed before screening = screened",
              "identified - duplicates - automation - other removals - awaiting screening = screened",
              (a.identified, a.duplicates, a.automatic, a.removed_other, a.awaiting_screening), a.screened,
              _ids(reps[reps["ta"].isin(["conflict", "unknown"])])),
        check("screened - excluded = sought", "screened - excluded at title/abstract = reports sought",
              (a.screened, a.screen_excluded), len(sought_seen),
              _ids(reps[reps["stray_full_text"] & (reps["ta"] != "forwarded")])),
        check("sought - not retrieved = assessed",
              "sought - not retrieved - awaiting full-text assessment = assessed",
              (a.sought, a.not_retrieved, a.awaiting_assessment), a.assessed,
              _ids(reps[(reps["ta"] == "forwarded") & reps["ft"].isin(["conflict", "unknown"])])),
        check("assessed - excluded = included reports", "assessed - excluded at full text = included reports",
              (a.assessed, a.excluded), int((reps["ft"] == "included").sum())),
    ]


def state_problems(states: pd.DataFrame, unlinked: Sequence[int] = ()) -> list[Problem]:
    """Records whose state does not fit the flow, grouped by kind (empty when all is well)."""
    reps = states[states["removed"] == ""]
    found = [
        ("screening_conflict", "unresolved conflicts at title/abstract (counted neither as screened nor excluded)",
         "resolve them: review screen conflicts --stage title_abstract, then review screen resolve",
         reps[reps["ta"] == "conflict"]),
        ("assessment_conflict", "unresolved conflicts at full text (counted neither as assessed nor excluded)",
         "resolve them: review screen conflicts --stage full_text, then review screen resolve",
         reps[(reps["ta"] == "forwarded") & (reps["ft"] == "conflict")]),
        ("stray_full_text", "full-text decisions on records not forwarded at title/abstract (not counted)",
         "re-open the record at title/abstract, which voids them (review screen reopen RECORD --stage "
         "title_abstract --reviewer NAME --reason ...), then decide it again",
         reps[reps["stray_full_text"] & (reps["ta"] != "forwarded")]),
        ("unknown_state", "records whose screening status could not be read (not counted)",
         "check the record still exists in the deduplicated set (review export records)",
         reps[(reps["ta"] == "unknown") | (reps["ft"] == "unknown")]),
        ("missing_reason", f"full-text exclusions without a reason (counted as '{NO_REASON}')",
         "record a reason: review screen resolve RECORD --stage full_text --decision exclude --reason ... "
         "--resolver NAME",
         reps[(reps["ft"] == "excluded") & reps["ft_reason"].isna()]),
    ]
    out = [Problem(kind, message, hint, _ids(frame)) for kind, message, hint, frame in found if len(frame)]
    if unlinked:
        out.append(Problem("unlinked", "records that no search or import run found (not counted in any arm)",
                           "import them through `review import` so their source is known, or delete them",
                           tuple(sorted(unlinked))))
    return out


def counts_from_states(states: pd.DataFrame, sources: Sequence[SourceCount], stamp: Stamp,
                   unlinked: Sequence[int] = (), extra_problems: Sequence[Problem] = ()) -> PrismaCounts:
    """All boxes, checks and problems from the per-record states."""
    dbr, other = count_arm(states, DBR, sources), count_arm(states, OTHER, sources)
    reps = states[(states["removed"] == "") & (states["ft"] == "included")]
    checks = tuple(arm_checks(states, dbr) + (arm_checks(states, other) if other.identified else []))
    return PrismaCounts(stamp, dbr, other, new_studies=int(reps["study_id"].nunique()), new_reports=len(reps),
                        checks=checks, problems=tuple(state_problems(states, unlinked)) + tuple(extra_problems))


def source_counts(states: pd.DataFrame, runs: Sequence[Mapping[str, Any]]) -> list[SourceCount]:
    """Records per source (before deduplication) with the dates of the runs that searched or imported it."""
    out = []
    keys = states.groupby(["source", "source_type", "category"], sort=True).size()
    for (source, stype, category), n in keys.items():
        mine = [r for r in runs if r["source"] == source]
        dates = sorted(r["started_at"][:10] for r in mine if r.get("started_at"))
        out.append(SourceCount(source, display_name(source), stype, category, int(n), len(mine),
                               dates[0] if dates else None, dates[-1] if dates else None,
                               any(r["kind"] == "search" for r in mine)))
    order = {"database": 0, "register": 1, "websites": 2, "organisations": 3, "citations": 4}
    return sorted(out, key=lambda s: (order.get(s.category, 9), -s.records, s.name.casefold()))


# ===================================================================== store-facing

def read_stamp(store) -> Stamp:
    d = store.data_as_of()
    return Stamp(str(store.path), d["as_of"], d["latest_run"], d["latest_decision"])


def load_record_states(store, config=None, *, not_retrieved: Sequence[str] = NOT_RETRIEVED_REASONS
                       ) -> tuple[pd.DataFrame, list[Problem]]:
    """Per-record states read from the store, and the problems found in the report-to-study links."""
    # A correction, retraction or comment linked to its article reports that article's study, never a
    # study of its own; a person's report-to-study link wins.
    links = {r["record_id"]: r["article_id"] for r in store.related_reports()} | store.study_links()
    study_of, link_problems = resolve_studies(links, store.duplicate_of())
    states = record_states(store.identified_rows(), store.cluster_primaries(),
                           screening_states(store, config, not_retrieved), study_of)
    return states, link_problems


def prisma_counts(store, config=None, *, not_retrieved: Sequence[str] = NOT_RETRIEVED_REASONS) -> PrismaCounts:
    """Every PRISMA 2020 box of the review in `store`, with the consistency checks and problems."""
    states, link_problems = load_record_states(store, config, not_retrieved=not_retrieved)
    return counts_from_states(states, source_counts(states, store.runs()), read_stamp(store),
                              store.unlinked_record_ids(), link_problems)


def prisma_frame(store, config=None) -> pd.DataFrame:
    """The counts as a tidy DataFrame (for the notebooks)."""
    return prisma_counts(store, config).to_frame()


# ===================================================================== several reports of one study

def link_reports(store, record_ids: Sequence[int], study_id: int, by: str, *, now: str | None = None) -> int:
    """Record that `record_ids` are reports of the study `study_id` stands for; returns how many were linked."""
    from review.store import utcnow

    by = " ".join(str(by or "").split())
    if not by:
        raise InputError("say who links the reports (--by NAME)")
    ids = [int(i) for i in record_ids]
    if not ids:
        raise InputError("give at least one record id to link")
    with store.transaction():
        known = store.stored_record_ids()
        dup = store.duplicate_of()
        links = store.study_links()
        problems = []
        for rid in [*ids, study_id]:
            if rid not in known:
                problems.append(f"record {rid} is not in the store")
            elif rid in dup:
                problems.append(f"record {rid} is a duplicate of record {dup[rid]}: use {dup[rid]}")
        if study_id in ids:
            problems.append(f"record {study_id} is the study itself: leave it out of the reports")
        if study_id in links:
            problems.append(f"record {study_id} is itself a report of study {links[study_id]}: "
                            f"link to {links[study_id]} instead")
        for rid in ids:
            reporting = sorted(r for r, s in links.items() if s == rid)
            if reporting:
                problems.append(f"record {rid} is the study of reports {', '.join(map(str, reporting))}: "
                                f"link those to {study_id} first")
        if problems:
            raise InputError("cannot link the reports; nothing was written", problems)
        return store.save_study_links(ids, study_id, by, now or utcnow())


def unlink_reports(store, record_ids: Sequence[int]) -> int:
    """Make each record its own study again; returns how many links were removed."""
    return store.delete_study_links([int(i) for i in record_ids])


# ===================================================================== tidy numbers

TIDY_COLUMNS = ["arm", "stage", "key", "label", "n", "prisma2020"]


def tidy_rows(counts: PrismaCounts) -> list[dict[str, Any]]:
    """One row per number: the boxes of both arms, per source, per reason, awaiting and conflicts."""
    rows: list[dict[str, Any]] = []

    def add(arm, stage, key, label, n, prisma=""):
        rows.append({"arm": arm, "stage": stage, "key": key, "label": label, "n": int(n), "prisma2020": prisma})

    for a in (counts.dbr, counts.other):
        is_dbr = a.arm == DBR
        p = "dbr" if is_dbr else "other"
        add(a.arm, "identification", f"{p}_identified", "Records identified", a.identified)
        for s in a.sources:
            key = {"database": "database_specific_results", "register": "register_specific_results",
                   "websites": "website_results", "organisations": "organisation_results",
                   "citations": "citations_results"}[s.category]
            add(a.arm, "identification", f"{p}_source:{s.source}",
                f"{s.name} ({CATEGORY_LABELS[s.category].lower()}; {s.date_text})", s.records, key)
        add(a.arm, "identification", f"{p}_duplicates", "Duplicate records removed", a.duplicates,
            "duplicates" if is_dbr else "")
        if not is_dbr:
            add(a.arm, "identification", "other_duplicates_of_dbr",
                "Duplicates of records found in databases or registers", a.duplicates_of_dbr)
        add(a.arm, "identification", f"{p}_excluded_automatic", "Records marked as ineligible by automation tools",
            a.automatic, "excluded_automatic" if is_dbr else "")
        add(a.arm, "identification", f"{p}_excluded_other", "Records removed for other reasons", a.removed_other,
            "excluded_other" if is_dbr else "")
        add(a.arm, "screening", f"{p}_awaiting_screening", "Records awaiting title/abstract screening",
            a.awaiting_screening)
        add(a.arm, "screening", f"{p}_screening_conflicts", "Records with an unresolved title/abstract conflict",
            a.screening_conflicts)
        add(a.arm, "screening", f"{p}_records_screened", "Records screened", a.screened,
            "records_screened" if is_dbr else "")
        add(a.arm, "screening", f"{p}_records_excluded", "Records excluded at title/abstract", a.screen_excluded,
            "records_excluded" if is_dbr else "")
        for reason, n in a.screen_reasons:
            add(a.arm, "screening", f"{p}_records_excluded_reason", reason, n)
        add(a.arm, "screening", f"{p}_sought_reports", "Reports sought for retrieval", a.sought,
            f"{p}_sought_reports")
        add(a.arm, "screening", f"{p}_notretrieved_reports", "Reports not retrieved", a.not_retrieved,
            f"{p}_notretrieved_reports")
        add(a.arm, "screening", f"{p}_awaiting_assessment", "Reports awaiting full-text assessment",
            a.awaiting_assessment)
        add(a.arm, "screening", f"{p}_assessment_conflicts", "Reports with an unresolved full-text conflict",
            a.assessment_conflicts)
        add(a.arm, "screening", f"{p}_assessed", "Reports assessed for eligibility", a.assessed, f"{p}_assessed")
        add(a.arm, "screening", f"{p}_excluded", "Reports excluded at full text", a.excluded, f"{p}_excluded")
        for reason, n in a.exclusion_reasons:
            add(a.arm, "screening", f"{p}_excluded_reason", reason, n, f"{p}_excluded")
        add(a.arm, "included", f"{p}_included_reports", "Included reports", a.included_reports)
        add(a.arm, "included", f"{p}_included_studies", "Included studies", a.included_studies)
    add("all", "included", "new_studies", "New studies included in review", counts.new_studies, "new_studies")
    add("all", "included", "new_reports", "Reports of new included studies", counts.new_reports, "new_reports")
    return rows


# ===================================================================== the PRISMA2020 CSV

# The template of the PRISMA2020 R package and Shiny app (Haddaway et al. 2022): rows, keys and texts
# exactly as in its inst/extdata/PRISMA.csv, read from github.com/prisma-flowdiagram/PRISMA2020 at commit
# 696d35e688113ecb6b7f3ae57395de496252ed0a; PRISMA_data() finds each value by grep() on column `data`,
# so only `n` is filled. The last two rows (meta-analysis) come from the newer template that
# R/PRISMA_data.R (commit c650850) reads and warns about when absent; left at 0.
PRISMA2020_COLUMNS = ("data", "node", "box", "description", "boxtext", "tooltips", "url", "n")
PRISMA2020_TEMPLATE: tuple[tuple[str, ...], ...] = (
    ("NA", "node4", "prevstud", "Grey title box; Previous studies", "Previous studies",
     "Grey title box; Previous studies", "prevstud.html", "0"),
    ("previous_studies", "node5", "box1", "Studies included in previous version of review",
     "Studies included in previous version of review", "Studies included in previous version of review",
     "previous_studies.html", "0"),
    ("previous_reports", "NA", "box1", "Reports of studies included in previous version of review",
     "Reports of studies included in previous version of review", "NA", "previous_reports.html", "0"),
    ("NA", "node6", "newstud", "Yellow title box; Identification of new studies via databases and registers",
     "Identification of new studies via databases and registers",
     "Yellow title box; Identification of new studies via databases and registers", "newstud.html", "0"),
    ("database_results", "node7", "box2", "Records identified from: Databases", "Databases",
     "Records identified from: Databases and Registers", "database_results.html", "0"),
    ("database_specific_results", "NA", "box2", "Records identified from: specific databases", "Specific Databases",
     "NA", "database_results.html", "Database 1, xxx; Database 2, xxx; Database 3, xxx"),
    ("register_results", "NA", "box2", "Records identified from: Registers", "Registers", "NA", "NA", "0"),
    ("register_specific_results", "NA", "box2", "Records identified from: specific registers", "Specific Registers",
     "NA", "database_results.html", "Register 1, xxx; Register 2, xxx; Register 3, xxx"),
    ("NA", "node16", "othstud", "Grey title box; Identification of new studies via other methods",
     "Identification of new studies via other methods",
     "Grey title box; Identification of new studies via other methods", "othstud.html", "0"),
    ("website_results", "node17", "box11", "Records identified from: Websites", "Websites",
     "Records identified from: Websites, Organisations and Citation Searching", "website_results.html", "0"),
    ("organisation_results", "", "box11", "Records identified from: Organisations", "Organisations", "NA", "NA",
     "0"),
    ("citations_results", "NA", "box11", "Records identified from: Citation searching", "Citation searching", "NA",
     "NA", "0"),
    ("duplicates", "node8", "box3", "Duplicate records", "Duplicate records", "Duplicate records",
     "duplicates.html", "0"),
    ("excluded_automatic", "NA", "box3", "Records marked as ineligible by automation tools",
     "Records marked as ineligible by automation tools", "NA", "NA", "0"),
    ("excluded_other", "NA", "box3", "Records removed for other reasons", "Records removed for other reasons", "NA",
     "NA", "0"),
    ("records_screened", "node9", "box4", "Records screened (databases and registers)", "Records screened",
     "Records screened (databases and registers)", "records_screened.html", "0"),
    ("records_excluded", "node10", "box5", "Records excluded (databases and registers)", "Records excluded",
     "Records excluded (databases and registers)", "records_excluded.html", "0"),
    ("dbr_sought_reports", "node11", "box6", "Reports sought for retrieval (databases and registers)",
     "Reports sought for retrieval", "Reports sought for retrieval (databases and registers)",
     "dbr_sought_reports.html", "0"),
    ("dbr_notretrieved_reports", "node12", "box7", "Reports not retrieved (databases and registers)",
     "Reports not retrieved", "Reports not retrieved (databases and registers)", "dbr_notretrieved_reports.html",
     "0"),
    ("other_sought_reports", "node18", "box12", "Reports sought for retrieval (other)", "Reports sought for retrieval",
     "Reports sought for retrieval (other)", "other_sought_reports.html", "0"),
    ("other_notretrieved_reports", "node19", "box13", "Reports not retrieved (other)", "Reports not retrieved",
     "Reports not retrieved (other)", "other_notretrieved_reports.html", "0"),
    ("dbr_assessed", "node13", "box8", "Reports assessed for eligibility (databases and registers)",
     "Reports assessed for eligibility", "Reports assessed for eligibility (databases and registers)",
     "dbr_assessed.html", "0"),
    ("dbr_excluded", "node14", "box9",
     "Reports excluded (databases and registers): [separate reasons and numbers using ; e.g. Reason1, xxx; "
     "Reason2, xxx; Reason3, xxx]", "Reports excluded", "Reports excluded (databases and registers)",
     "dbrexcludedrecords.html", "Reason1, xxx; Reason2, xxx; Reason3, xxx"),
    ("other_assessed", "node20", "box14", "Reports assessed for eligibility (other)",
     "Reports assessed for eligibility", "Reports assessed for eligibility (other)", "other_assessed.html", "0"),
    ("other_excluded", "node21", "box15",
     "Reports excluded (other): [separate reasons and numbers using ; e.g. Reason1, xxx; Reason2, xxx; "
     "Reason3, xxx]", "Reports excluded", "Reports excluded (other)", "other_excluded.html",
     "Reason1, xxx; Reason2, xxx; Reason3, xxx"),
    ("new_studies", "node15", "box10", "New studies included in review", "New studies included in review",
     "New studies included in review", "new_studies.html", "0"),
    ("new_reports", "NA", "box10", "Reports of new included studies", "Reports of new included studies", "NA", "NA",
     "0"),
    ("total_studies", "node22", "box16", "Total studies included in review", "Total studies included in review",
     "Total studies included in review", "total_studies.html", "0"),
    ("total_reports", "NA", "box16", "Reports of total included studies", "Reports of total included studies", "NA",
     "NA", "0"),
    ("identification", "node1", "identification", "Blue identification box", "Identification",
     "Blue identification box", "identification.html", "0"),
    ("screening", "node2", "screening", "Blue screening box", "Screening", "Blue screening box", "screening.html",
     "0"),
    ("included", "node3", "included", "Blue included box", "Included", "Blue included box", "included.html", "0"),
    ("total_studies_ma", "node23", "box17", "Total studies included in meta-analysis",
     "Total studies included in meta-analysis", "Total studies included in meta-analysis",
     "total_studies_meta_analysis.html", "0"),
    ("total_reports_ma", "NA", "box17", "Reports of total included studies in meta-analysis",
     "Reports of total included studies in meta-analysis", "NA", "NA", "0"),
)


def prisma2020_rows(counts: PrismaCounts) -> list[tuple[str, ...]]:
    """The template rows with `n` filled from the counts (rows the counts do not feed keep the template's n)."""
    values = counts.boxes()
    return [(*row[:-1], str(values.get(row[0], row[-1]))) for row in PRISMA2020_TEMPLATE]


def prisma2020_csv(counts: PrismaCounts) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(PRISMA2020_COLUMNS)
    writer.writerows(prisma2020_rows(counts))
    return buf.getvalue()


# ===================================================================== PRISMA-S, characteristics, evidence

PRISMA_S_COLUMNS = ["source", "source_key", "source_type", "kind", "platform", "date_searched", "date_imported",
                    "query", "query_translation", "limits", "records_retrieved", "records_linked", "new_records",
                    "status", "file", "run_id"]


def _limits_text(limits: Any, kind: str) -> str:
    if kind != "search" or not isinstance(limits, Mapping):
        return ""
    parts = []
    if limits.get("mindate") or limits.get("maxdate"):
        parts.append(f"dates {limits.get('mindate') or 'any'} to {limits.get('maxdate') or 'any'}"
                     f" ({limits.get('datetype') or 'pdat'})")
    extra = limits.get("limits") or []
    if extra:
        parts.append("filters: " + "; ".join(map(str, extra)))
    return "; ".join(parts) or "none"


def prisma_s_rows(runs: Sequence[Mapping[str, Any]], linked: Mapping[str, int]) -> pd.DataFrame:
    """PRISMA-S search table: one row per search or import run, oldest first."""
    rows = []
    for r in sorted(runs, key=lambda r: (r.get("started_at") or "", r["run_id"])):
        search = r["kind"] == "search"
        name = display_name(r["source"])
        fmt = (r.get("limits") or {}).get("format") if isinstance(r.get("limits"), Mapping) else None
        platform = (f"{name} via NCBI E-utilities (esearch, efetch)" if search and _fold(r["source"]) == "pubmed"
                    else name if search else f"export file imported{f' ({fmt})' if fmt else ''}")
        rows.append({
            "source": name, "source_key": r["source"], "source_type": r.get("source_type") or "",
            "kind": r["kind"], "platform": platform,
            "date_searched": (r.get("started_at") or "")[:10] if search else "",
            "date_imported": "" if search else (r.get("started_at") or "")[:10],
            "query": r.get("query") or ("" if search else "not recorded: imported from an export file"),
            "query_translation": r.get("translation") or "", "limits": _limits_text(r.get("limits"), r["kind"]),
            "records_retrieved": r.get("count"), "records_linked": linked.get(r["run_id"], 0),
            "new_records": r.get("n_new"), "status": r.get("status") or "", "file": r.get("file") or "",
            "run_id": r["run_id"],
        })
    df = pd.DataFrame(rows, columns=PRISMA_S_COLUMNS)
    for col in ("records_retrieved", "records_linked", "new_records"):
        df[col] = df[col].astype("Int64")
    return df


def prisma_s_table(store) -> pd.DataFrame:
    return prisma_s_rows(store.runs(), store.run_link_counts())


CHARACTERISTICS_COLUMNS = ["study_id", "record_id", "first_author", "year", "title", "design", "tier", "tier_source", "country",
                           "sample_size", "country_from", "sample_size_from", "arm", "source", "link"]


def characteristics_rows(states: pd.DataFrame, records: Mapping[int, Any],
                         designs: Mapping[int, Any]) -> pd.DataFrame:
    """One row per included report (grouped by study): design, tier, and country and sample size from the abstract."""
    rows = []
    included = states[(states["removed"] == "") & (states["ft"] == "included")]
    for r in included.itertuples(index=False):
        rid = int(r.canonical_id)
        rec = records.get(rid)
        d = designs.get(rid)
        text = rec.abstract_text if rec else ""
        size, where = extract.sample_size(text), extract.country(text)
        link = ""
        if rec is not None:
            link = (f"https://pubmed.ncbi.nlm.nih.gov/{rec.pmid}/" if rec.pmid
                    else f"https://doi.org/{rec.doi}" if rec.doi else "")
        rows.append({
            "study_id": int(r.study_id), "record_id": rid, "first_author": (rec.first_author if rec else None) or "",
            "year": rec.year if rec else None, "title": (rec.title if rec else None) or "",
            "design": d.design if d else "unclassified", "tier": d.tier.value if d else "unclassified",
            "tier_source": d.tier_source if d else "",
            "country": where.value if where else "", "sample_size": int(size.value) if size else None,
            "country_from": where.evidence if where else "", "sample_size_from": size.evidence if size else "",
            "arm": ARM_LABELS[r.arm], "source": display_name(r.source), "link": link,
        })
    df = pd.DataFrame(rows, columns=CHARACTERISTICS_COLUMNS)
    for col in ("study_id", "record_id", "year", "sample_size"):
        df[col] = df[col].astype("Int64")
    # Each study's own report first, then its further reports.
    sid, rid = df["study_id"], df["record_id"]
    order = sorted(range(len(df)), key=lambda i: (sid.iat[i], rid.iat[i] != sid.iat[i], rid.iat[i]))
    return df.iloc[order].reset_index(drop=True)


EVIDENCE_COLUMNS = ["tier", "label", "studies", "reports", "person_confirmed", "designs", "included_studies"]


def evidence_by_tier(characteristics: pd.DataFrame) -> pd.DataFrame:
    """Included studies and reports per evidence tier (a study's tier is that of the report standing for it)."""
    by_study: dict[int, pd.Series] = {}
    for _, r in characteristics.iterrows():
        sid = int(r["study_id"])
        if sid not in by_study or int(r["record_id"]) == sid:
            by_study[sid] = r
    rows = []
    tiers = [t.value for t in Tier]  # the last, unclassified, only when it has records
    for tier in tiers:
        reports = characteristics[characteristics["tier"] == tier]
        studies = [r for r in by_study.values() if r["tier"] == tier]
        if tier == "unclassified" and reports.empty and not studies:
            continue
        designs = Counter(r["design"] for r in studies)
        rows.append({
            "tier": tier, "label": TIER_LABELS[tier], "studies": len(studies),
            "person_confirmed": sum(r["tier_source"] == "person-confirmed" for r in studies), "reports": len(reports),
            "designs": "; ".join(f"{k} {v}" for k, v in sorted(designs.items(), key=lambda kv: (-kv[1], kv[0]))),
            "included_studies": "; ".join(
                f"{r['first_author'] or 'record'} {'' if pd.isna(r['year']) else r['year']} (#{r['study_id']})".replace(
                    "  ", " ") for r in sorted(studies, key=lambda r: int(r["study_id"]))),
        })
    return pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)


# ===================================================================== writing the files

def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub Markdown table; pipes escaped and line breaks kept as <br>."""
    def cell(v: Any) -> str:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return ""
        return str(v).replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "|".join("---" for _ in df.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _footer(stamp: Stamp) -> str:
    return f"\n\n_{stamp.line()}; written by `review prisma`._\n"


def consistency_markdown(counts: PrismaCounts) -> str:
    """The consistency report: every check with its numbers, then each problem with the record ids."""
    failing = sum(1 for c in counts.checks if not c.ok)
    lines = ["# PRISMA consistency report", ""]
    lines.append("All checks pass: every record's state fits the flow." if counts.ok else
                 f"**{len(counts.problems)} problem(s)** involving {len(counts.problem_record_ids)} record(s); "
                 f"{failing} of {len(counts.checks)} checks fail.")
    waiting = counts.dbr.awaiting_screening + counts.other.awaiting_screening
    waiting_ft = counts.dbr.awaiting_assessment + counts.other.awaiting_assessment
    if waiting or waiting_ft:
        lines += ["", f"Review in progress: {waiting} record(s) awaiting title/abstract screening and {waiting_ft} "
                      "report(s) awaiting full-text assessment (counted neither as excluded nor as included)."]
    lines += ["", "## Checks", "", "| arm | check | left side | right side | result | records breaking it |",
              "|---|---|---|---|---|---|"]
    for c in counts.checks:
        ids = ", ".join(map(str, c.record_ids))
        lines.append(f"| {ARM_LABELS[c.arm]} | {c.equation} | {c.terms} = {c.left} | {c.right} | "
                     f"{'ok' if c.ok else '**FAILS**'} | {ids} |")
    if counts.problems:
        lines += ["", "## Problems"]
        for p in counts.problems:
            lines += ["", f"### {p.message} ({len(p.record_ids)} record(s))", "",
                      "Records: " + ", ".join(map(str, p.record_ids)), "", f"What to do: {p.hint}."]
    return "\n".join(lines) + _footer(counts.stamp)


@dataclass
class Written:
    """What `write_outputs` wrote, for the CLI summary and the tests."""

    out: Path
    files: list[str] = field(default_factory=list)
    counts: PrismaCounts | None = None

    @property
    def problems(self) -> list[str]:
        """Each consistency problem as one line (kind, what, record ids)."""
        return [f"{p.message}: records {', '.join(map(str, p.record_ids))}"
                for p in (self.counts.problems if self.counts else ())]


FILE_NOTES = {
    "prisma_flow.svg": "PRISMA 2020 flow diagram (vector)",
    "prisma_flow.png": "PRISMA 2020 flow diagram (image)",
    "PRISMA2020.csv": "the counts in the PRISMA2020 R package / Shiny app format: PRISMA_data(read.csv(file))",
    "prisma_counts.csv": "every number as a tidy table (arm, stage, key, label, n, PRISMA2020 row fed)",
    "prisma_counts.json": "the same numbers, the checks and the problems as JSON (with the stamp)",
    "consistency.md": "the consistency checks and every record whose state does not fit the flow",
    "prisma_s.csv": "PRISMA-S search table: one row per search or import run",
    "prisma_s.md": "PRISMA-S search table (Markdown)",
    "characteristics.csv": "characteristics of included studies (one row per included report)",
    "characteristics.md": "characteristics of included studies (Markdown)",
    "characteristics.xlsx": "characteristics of included studies (Excel; stamp on sheet 'about')",
    "evidence_by_tier.csv": "included studies and reports per evidence tier",
    "evidence_by_tier.md": "included studies and reports per evidence tier (Markdown)",
    "evidence_by_tier.xlsx": "included studies and reports per evidence tier (Excel; stamp on sheet 'about')",
    "related_reports.csv": "corrections, retractions and comments linked to the article they name (reports of "
                           "its study, never studies of their own)",
    "related_reports.md": "the same links (Markdown)",
}

RELATED_COLUMNS = ["record_id", "kind", "article_id", "rule", "title", "article_title"]


def related_reports_table(store) -> pd.DataFrame:
    """Each correction, retraction or comment, the article it names and the rule that linked them."""
    rows = []
    for link in store.related_reports():
        notice, article = store.get_record(link["record_id"]), store.get_record(link["article_id"])
        rows.append({"record_id": link["record_id"], "kind": link["kind"], "article_id": link["article_id"],
                     "rule": link["rule"], "title": notice.title or "", "article_title": article.title or ""})
    return pd.DataFrame(rows, columns=RELATED_COLUMNS)


def _write_bytes(path: Path, data: bytes) -> None:
    """Write through a temporary file so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _xlsx_bytes(df: pd.DataFrame, sheet: str, stamp: Stamp, note: str) -> bytes:
    """A one-table workbook with an 'about' sheet; zip times and document dates fixed to the data's time."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(df.columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in df.itertuples(index=False):
        ws.append([_xlsx_value(v) for v in row])
    for i, col in enumerate(df.columns, start=1):
        width = max([len(str(col))] + [len(str(v)) for v in df[col].head(200) if not pd.isna(v)] or [8])
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
        if width > 60:
            for cell in ws[get_column_letter(i)][1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    about = wb.create_sheet("about")
    for k, v in (("what", note), ("store", stamp.store), ("data as of", stamp.as_of or ""),
                 ("latest run", stamp.latest_run or ""),
                 ("latest screening decision", "" if stamp.latest_decision is None else stamp.latest_decision),
                 ("written by", "review prisma")):
        about.append([k, v])
        about.cell(row=about.max_row, column=1).font = Font(bold=True)
    about.column_dimensions["A"].width = 26
    about.column_dimensions["B"].width = 80
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed_zip(buf.getvalue(), stamp.as_of)


def _xlsx_value(v: Any) -> Any:
    """Plain Python values for openpyxl (numpy and pandas scalars, NA as an empty cell)."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def _fixed_zip(data: bytes, as_of: str | None) -> bytes:
    """Re-pack an xlsx with fixed entry times and document dates, so unchanged data give identical bytes."""
    when = re.sub(r"\.\d+", "", as_of or "1980-01-01T00:00:00Z")
    if not when.endswith("Z"):
        when += "Z"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)", lambda m: m.group(1)
                              + when.encode() + m.group(3), body)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), body,
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def about_json(stamp: Stamp, files: Sequence[str], counts: PrismaCounts) -> dict[str, Any]:
    return {"store": stamp.store, "data_as_of": stamp.as_of, "latest_run": stamp.latest_run,
            "latest_screening_decision": stamp.latest_decision, "written_by": "review prisma",
            "consistent": counts.ok, "problems": len(counts.problems),
            "files": [{"file": f, "what": FILE_NOTES.get(f, "")} for f in files]}


def about_markdown(stamp: Stamp, files: Sequence[str], counts: PrismaCounts) -> str:
    decision = "none" if stamp.latest_decision is None else f"#{stamp.latest_decision}"
    consistency = "all checks pass" if counts.ok else f"{len(counts.problems)} problem(s), see consistency.md"
    lines = ["# PRISMA exports", "", f"- Store: `{stamp.store}`",
             f"- Data as of: {stamp.as_of or 'no data yet'} (the newest stored search, import, screening decision, "
             "study link, override or duplicate cluster; never the time of writing, so a refresh with nothing new "
             "writes identical files)",
             f"- Latest run: {stamp.latest_run or 'none'}", f"- Latest screening decision: {decision}",
             f"- Consistency: {consistency}",
             "", "CSV files carry no stamp lines (other tools read them as they are): this file and about.json "
             "state what they reflect. Markdown files end with a stamp line, Excel files have an 'about' sheet, "
             "the diagram shows it at the bottom.", "", "| file | what |", "|---|---|"]
    lines += [f"| {f} | {FILE_NOTES.get(f, '')} |" for f in files]
    return "\n".join(lines) + "\n"


def write_outputs(store, out: Path, config=None, *,
                  not_retrieved: Sequence[str] = NOT_RETRIEVED_REASONS) -> Written:
    """Write the diagram, the counts (PRISMA2020 CSV, tidy CSV, JSON), the consistency report and the tables."""
    from review.prisma_diagram import save_flow

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReviewError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    states, link_problems = load_record_states(store, config, not_retrieved=not_retrieved)
    stamp = read_stamp(store)
    counts = counts_from_states(states, source_counts(states, store.runs()), stamp, store.unlinked_record_ids(),
                                link_problems)
    chars = characteristics_rows(states, dict(store.canonical_records()), store.designs())
    evidence = evidence_by_tier(chars)
    search_table = prisma_s_table(store)
    related = related_reports_table(store)
    footer = _footer(stamp)
    files: dict[str, bytes] = {
        "PRISMA2020.csv": prisma2020_csv(counts).encode("utf-8"),
        "prisma_counts.csv": _csv_bytes(counts.to_frame()),
        "prisma_counts.json": (json.dumps({"about": asdict(stamp), **counts.to_dict()}, indent=1, ensure_ascii=False)
                               + "\n").encode("utf-8"),
        "consistency.md": consistency_markdown(counts).encode("utf-8"),
        "prisma_s.csv": _csv_bytes(search_table),
        "prisma_s.md": ("# PRISMA-S search table\n\n" + (markdown_table(search_table) if len(search_table)
                        else "No searches or imports yet.") + footer).encode("utf-8"),
        "characteristics.csv": _csv_bytes(chars),
        "characteristics.md": ("# Characteristics of included studies\n\n" + (markdown_table(chars.drop(
            columns=["country_from", "sample_size_from"])) if len(chars) else "No included studies yet.")
            + "\n\nCountry and sample size are read from the abstract (hints, not extracted data); the CSV and "
              "Excel files give the phrase each was read from." + footer).encode("utf-8"),
        "characteristics.xlsx": _xlsx_bytes(chars, "characteristics", stamp, FILE_NOTES["characteristics.xlsx"]),
        "evidence_by_tier.csv": _csv_bytes(evidence),
        "evidence_by_tier.md": ("# Included studies by evidence tier\n\n" + markdown_table(evidence)
                                + footer).encode("utf-8"),
        "evidence_by_tier.xlsx": _xlsx_bytes(evidence, "evidence_by_tier", stamp,
                                             FILE_NOTES["evidence_by_tier.xlsx"]),
        "related_reports.csv": _csv_bytes(related),
        "related_reports.md": ("# Related reports\n\nCorrections, retractions and comments are kept as records "
                               "(PRISMA counts reports) and linked to the article they name; an included one "
                               "is a report of that article's study, never a study of its own.\n\n"
                               + (markdown_table(related) if len(related) else "None found.")
                               + footer).encode("utf-8"),
    }
    try:
        for name, data in files.items():
            _write_bytes(out / name, data)
        save_flow(counts, out / "prisma_flow.svg", out / "prisma_flow.png", report_name="consistency.md")
        names = ["prisma_flow.svg", "prisma_flow.png", *files]
        _write_bytes(out / "about.json", (json.dumps(about_json(stamp, names, counts), indent=1, ensure_ascii=False)
                                          + "\n").encode("utf-8"))
        _write_bytes(out / "ABOUT.md", about_markdown(stamp, names, counts).encode("utf-8"))
    except OSError as exc:
        raise ReviewError(f"cannot write to {out}: {exc.strerror or exc}") from None
    return Written(out, [*names, "about.json", "ABOUT.md"], counts)


def summary_lines(counts: PrismaCounts) -> list[str]:
    """A short text summary of the flow for the command line."""
    d, o = counts.dbr, counts.other
    lines = [f"databases and registers: {d.identified} identified ("
             + ", ".join(f"{s.name} {s.records}" for s in d.sources) + f"), {d.removed_before_screening} removed "
             f"before screening, {d.screened} screened ({d.awaiting_screening} awaiting), "
             f"{d.screen_excluded} excluded, "
             f"{d.sought} sought, {d.not_retrieved} not retrieved, {d.assessed} assessed "
             f"({d.awaiting_assessment} awaiting), {d.excluded} excluded, {d.included_reports} reports included"]
    if counts.has_other_methods:
        lines.append(f"other methods: {o.identified} identified, {o.duplicates} duplicates, {o.screened} screened "
                     f"({o.awaiting_screening} awaiting), {o.sought} sought, {o.not_retrieved} not retrieved, "
                     f"{o.assessed} assessed, {o.excluded} excluded, {o.included_reports} reports included")
    lines.append(f"included: {counts.new_studies} studies, {counts.new_reports} reports")
    if counts.ok:
        lines.append("consistency: all checks pass")
    else:
        lines.append(f"consistency: {len(counts.problems)} problem(s) involving records "
                     + ", ".join(map(str, counts.problem_record_ids[:20]))
                     + (" ..." if len(counts.problem_record_ids) > 20 else ""))
    return lines


# ===================================================================== names the notebooks and refresh use

def compute_counts(store, config=None) -> PrismaCounts:
    """Same as prisma_counts (the name notebooks/prisma_report.ipynb uses)."""
    return prisma_counts(store, config)


def consistency_report(counts: PrismaCounts) -> str:
    """The consistency report as Markdown (same as consistency.md)."""
    return consistency_markdown(counts)


def counts_frame(counts: PrismaCounts) -> pd.DataFrame:
    return counts.to_frame()


def draw_figure(counts: PrismaCounts):
    """The flow diagram as a pyplot figure, so a notebook shows it inline (files: use write_outputs)."""
    import matplotlib.pyplot as plt

    from review.prisma_diagram import draw_flow

    return draw_flow(counts, new_figure=plt.figure)


def search_table(store) -> pd.DataFrame:
    """The PRISMA-S search table (one row per search or import run)."""
    return prisma_s_table(store)


def characteristics_table(store, config=None) -> pd.DataFrame:
    """Characteristics of the included studies, one row per included report."""
    states, _ = load_record_states(store, config)
    return characteristics_rows(states, dict(store.canonical_records()), store.designs())


def write_prisma(store, out: Path, config=None) -> Written:
    """Same as write_outputs (the name review/refresh.py uses)."""
    return write_outputs(store, out, config)
