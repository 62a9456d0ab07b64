"""Evidence summaries for the notebooks: records and included studies by design and tier, the
trials list with details from the abstract, what is new, and the tiers-over-time plot."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from review import extract
from review.models import DESIGN_TIER, LABELLED_TIERS, TIER_LABELS, Design, Record

TIERS: tuple[str, ...] = LABELLED_TIERS  # unclassified is listed after them, only when it has records
# Hatches keep the tiers apart when printed without colour.
TIER_HATCH = {"trial": "", "observational": "//", "anecdotal": "..", "preclinical": "xx", "secondary": "\\\\",
              "opinion_other": "--", "unclassified": "oo"}
TIER_COLOUR = {"trial": "#1b7837", "observational": "#5aae61", "anecdotal": "#d6604d", "preclinical": "#8073ac",
               "secondary": "#4393c3", "opinion_other": "#bababa", "unclassified": "#ffffff"}
DESIGN_ORDER: tuple[str, ...] = tuple(DESIGN_TIER)


def link(record: Record) -> str | None:
    if record.pmid:
        return f"https://pubmed.ncbi.nlm.nih.gov/{record.pmid}/"
    if record.doi:
        return f"https://doi.org/{record.doi}"
    return None


def evidence_frame(records: Iterable[tuple[int, Record]], designs: Mapping[int, Design],
                   included: Mapping[int, bool] | None = None,
                   first_seen: Mapping[int, str] | None = None) -> pd.DataFrame:
    """One row per (deduplicated) record with its design, tier and, if screened, inclusion."""
    rows = []
    for rid, r in records:
        d = designs.get(rid)
        rows.append({
            "record_id": rid, "year": r.year, "title": r.title, "journal": r.journal, "pmid": r.pmid, "doi": r.doi,
            "link": link(r), "abstract": r.abstract_text,
            "design": d.design if d else "unclassified", "tier": d.tier.value if d else "unclassified",
            "tier_source": d.tier_source if d else "",
            "self_reported": bool(d.self_reported) if d else False, "confidence": d.confidence if d else None,
            "reasons": "; ".join(d.reasons) if d else "",
            "included": (included or {}).get(rid), "first_seen": (first_seen or {}).get(rid),
        })
    df = pd.DataFrame(rows, columns=["record_id", "year", "title", "journal", "pmid", "doi", "link", "abstract",
                                     "design", "tier", "tier_source", "self_reported", "confidence", "reasons", "included",
                                     "first_seen"])
    df["year"] = df["year"].astype("Int64")
    return df


def tier_table(df: pd.DataFrame) -> pd.DataFrame:
    """Trial data beside the other tiers: records, included studies, self-reported, share of records."""
    out = []
    total = len(df)
    for tier in (*TIERS, "unclassified"):
        part = df[df["tier"] == tier]
        if tier == "unclassified" and part.empty:
            continue
        out.append({"tier": tier, "label": TIER_LABELS.get(tier, "Not yet classified"), "records": len(part),
                    "share": f"{len(part) / total:.0%}" if total else "0%",
                    "included": int((part["included"] == True).sum()),  # noqa: E712 (None means unscreened)
                    "person_confirmed": int((part["tier_source"] == "person-confirmed").sum()),
                    "self_reported": int(part["self_reported"].sum())})
    return pd.DataFrame(out, columns=["tier", "label", "records", "share", "included", "person_confirmed",
                                      "self_reported"])


def design_table(df: pd.DataFrame) -> pd.DataFrame:
    """Counts per design, in tier order."""
    counts = df.groupby("design").size()
    rows = [{"design": d, "tier": DESIGN_TIER[d].value, "records": int(counts.get(d, 0)),
             "included": int(((df["design"] == d) & (df["included"] == True)).sum())}  # noqa: E712
            for d in DESIGN_ORDER if counts.get(d, 0)]
    return pd.DataFrame(rows, columns=["design", "tier", "records", "included"])


def tier_year_table(df: pd.DataFrame, *, only_included: bool = False) -> pd.DataFrame:
    """Rows: year; columns: tiers (all six, in order, then unclassified if any); values: record counts."""
    part = df[df["included"] == True] if only_included else df  # noqa: E712
    part = part[part["year"].notna()]
    table = pd.crosstab(part["year"].astype(int), part["tier"]) if len(part) else pd.DataFrame()
    extra = ["unclassified"] if "unclassified" in table.columns else []  # never folded into another tier
    return table.reindex(columns=[*TIERS, *extra], fill_value=0).sort_index()


def trials_table(df: pd.DataFrame) -> pd.DataFrame:
    """Human experimental studies with the key details their abstracts state."""
    rows = []
    for _, r in df[df["tier"] == "trial"].sort_values(["year", "record_id"]).iterrows():
        size = extract.sample_size(r["abstract"])
        rows.append({"record_id": r["record_id"], "year": r["year"], "design": r["design"],
                     "tier_source": r["tier_source"], "title": r["title"],
                     "features": ", ".join(extract.trial_features(r["abstract"])),
                     "n": int(size.value) if size else None, "doses": ", ".join(extract.doses(r["abstract"])),
                     "comparators": ", ".join(extract.comparators(r["abstract"])),
                     "included": r["included"], "link": r["link"]})
    return pd.DataFrame(rows, columns=["record_id", "year", "design", "tier_source", "title", "features", "n", "doses",
                                       "comparators", "included", "link"])


def new_since(df: pd.DataFrame, since: str | None) -> pd.DataFrame:
    """Records first stored after ``since`` (ISO time); everything when since is None."""
    if not since:
        return df.iloc[0:0] if df.empty else df.copy()
    return df[df["first_seen"].notna() & (df["first_seen"] > since)].copy()


def plot_tiers_over_time(table: pd.DataFrame, title: str = "Records by evidence tier and year"):
    """Stacked bars, one hatch per tier so the plot reads in black and white."""
    from matplotlib.figure import Figure  # no pyplot: nothing global, the caller shows or saves it

    fig = Figure(figsize=(9, 4.5), dpi=110)
    ax = fig.subplots()
    if table.empty:
        ax.text(0.5, 0.5, "No records with a year yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    bottom = pd.Series(0, index=table.index)
    for tier in (*TIERS, "unclassified"):
        values = table[tier] if tier in table else pd.Series(0, index=table.index)
        if values.sum() == 0:
            continue
        ax.bar(table.index, values, bottom=bottom, label=TIER_LABELS[tier], color=TIER_COLOUR[tier],
               hatch=TIER_HATCH[tier], edgecolor="black", linewidth=0.5)
        bottom = bottom + values
    ax.set_xlabel("Publication year")
    ax.set_ylabel("Records")
    ax.set_title(title)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.margins(y=0.12)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def records_found_by(store, strategies: Iterable[str]) -> set[int]:
    """Record ids (deduplicated primaries included) found by the runs of the named strategies."""
    wanted = set(strategies)
    ids: set[int] = set()
    for run in store.runs(kind="search"):
        if run["strategy"] in wanted:
            ids.update(store.run_record_ids(run["run_id"]))
    dup = store.duplicate_of()
    return {dup.get(i, i) for i in ids}


def load_evidence(store, *, strategies: Iterable[str] | None = None, year_from: int | None = None,
                  year_to: int | None = None, tiers: Iterable[str] | None = None) -> pd.DataFrame:
    """The evidence frame of a store, narrowed by strategy, publication years and tiers."""
    from review.screening import current_status

    status = current_status(store)
    # True: included at full text; False: excluded at either stage; missing: not (yet) decided.
    included: dict[int, bool] = {}
    for row in status.itertuples(index=False):
        if row.included:
            included[row.record_id] = True
        elif row.ta_status == "exclude" or row.ft_status == "exclude":
            included[row.record_id] = False
    first_seen = {r["record_id"]: r["first_seen"] for r in store.record_rows()}
    df = evidence_frame(store.canonical_records(), store.designs(), included or None, first_seen)
    if strategies:
        df = df[df["record_id"].isin(records_found_by(store, strategies))]
    if year_from is not None:
        df = df[df["year"].notna() & (df["year"] >= int(year_from))]
    if year_to is not None:
        df = df[df["year"].notna() & (df["year"] <= int(year_to))]
    if tiers:
        df = df[df["tier"].isin(list(tiers))]
    return df.reset_index(drop=True)


def styled(df: pd.DataFrame, caption: str | None = None, links: Iterable[str] = ("link",)):
    """A pandas Styler for notebooks: links clickable, no index, caption on top."""
    def _a(url):
        return f'<a href="{url}">{url}</a>' if isinstance(url, str) and url.startswith("http") else url
    fmt = {c: _a for c in links if c in df.columns}
    sty = df.style.format(fmt, na_rep="").hide(axis="index")
    if caption:
        sty = sty.set_caption(caption)
    return sty


def about(store, df: pd.DataFrame) -> str:
    """One line saying what the notebook reflects: the store, the data-as-of time and run, the counts."""
    runs = store.runs()
    last = max(runs, key=lambda r: (r["finished_at"] or r["started_at"] or "", r["run_id"])) if runs else None
    as_of = f"data as of {last['finished_at'] or last['started_at']} (run `{last['run_id']}`)" if last else "no runs yet"
    return (f"Store `{store.path}`, {as_of}: {len(df)} deduplicated records shown, "
            f"{int((df['tier'] == 'trial').sum())} of them trial data.")


def claims_detail_html(cmap: pd.DataFrame, claims) -> str:
    """Per claim, the studies that bear on it grouped by tier, with links (HTML for the notebook)."""
    from html import escape

    parts = []
    for claim in claims:
        rows = cmap[cmap["claim_id"] == claim.id]
        if "background_only" in rows.columns:
            rows = rows[~rows["background_only"].fillna(False).astype(bool) | rows["pinned"].fillna(False).astype(bool)]
        parts.append(f"<h4>{escape(claim.id)}: {escape(claim.claim)}</h4>")
        if rows.empty:
            parts.append("<p><em>No study in this set bears on it.</em></p>")
            continue
        parts.append("<ul>")
        for tier in (*TIERS, "unclassified"):
            sub = rows[rows["tier"] == tier].sort_values(["year", "record_id"], na_position="last")
            if sub.empty:
                continue
            items = []
            for r in sub.itertuples(index=False):
                title = escape(str(r.title or "(no title)"))
                ref = f'<a href="{escape(r.link)}">{title}</a>' if isinstance(r.link, str) and r.link else title
                pin = " <strong>[pinned]</strong>" if getattr(r, "pinned", False) else ""
                year = "" if pd.isna(r.year) else f" ({int(r.year)})"
                who = " (person-confirmed)" if getattr(r, "tier_source", "") == "person-confirmed" else ""
                items.append(f"<li>{ref}{year}, {escape(str(r.design))}{who}{pin}</li>")
            parts.append(f"<li><strong>{escape(TIER_LABELS.get(tier, tier))}: {len(sub)}</strong><ul>"
                         + "".join(items) + "</ul></li>")
        parts.append("</ul>")
    return "\n".join(parts)


def progress_frame(status: pd.DataFrame) -> pd.DataFrame:
    """Records per stage and screening status (from review.screening.current_status)."""
    rows = []
    for stage, col in (("title_abstract", "ta_status"), ("full_text", "ft_status")):
        counts = status[col].value_counts() if len(status) else pd.Series(dtype=int)
        for value in ("undecided", "pending", "conflict", "include", "maybe", "exclude", "not_due"):
            if value == "not_due" and stage == "title_abstract":
                continue
            rows.append({"stage": stage, "status": value, "records": int(counts.get(value, 0))})
    return pd.DataFrame(rows, columns=["stage", "status", "records"])


def recall_curve(decisions: pd.DataFrame, stage: str = "title_abstract") -> pd.DataFrame | None:
    """Per reviewer, includes found against records screened, in the order decided (None if too few)."""
    d = decisions[(decisions["stage"] == stage) & (decisions["kind"] == "decision")]
    if d.empty:
        return None
    d = d.sort_values(["reviewer", "at", "decision_id"]).drop_duplicates(["reviewer", "record_id"], keep="first")
    frames = []
    for reviewer, part in d.groupby("reviewer"):
        hits = part["decision"].isin(["include", "maybe"]).cumsum()
        total = max(int(hits.iloc[-1]), 1)
        frames.append(pd.DataFrame({"reviewer": reviewer, "screened": range(1, len(part) + 1),
                                    "found": hits.to_numpy(), "recall": hits.to_numpy() / total}))
    out = pd.concat(frames, ignore_index=True)
    return out if out["found"].max() > 0 else None


def plot_recall_curve(curve: pd.DataFrame):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=110)
    ax = fig.subplots()
    styles = ["-", "--", ":", "-."]
    for i, (reviewer, part) in enumerate(curve.groupby("reviewer")):
        ax.plot(part["screened"], part["recall"], styles[i % 4], color="black", label=reviewer)
    ax.set_xlabel("Records screened (in the order decided)")
    ax.set_ylabel("Share of includes found so far")
    ax.set_ylim(0, 1.05)
    ax.legend(frameon=False)
    ax.set_title("Includes found while screening")
    fig.tight_layout()
    return fig


def as_image(fig, dpi: int = 110):
    """A matplotlib Figure as an IPython PNG image, shown the same under any backend."""
    import io

    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return Image(data=buf.getvalue(), format="png")
