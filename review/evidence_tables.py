"""Tables and the risk-of-bias figure from the extracted values (computed from the store, never typed in).

* characteristics of included studies (CSV, Markdown, Excel): one row per study, final values;
* evidence by claim and outcome: one row per study outcome, with design, n, effect and risk of bias;
* risk of bias, long form (study, tool, domain, judgement) and the robvis-style traffic-light figure.

A value is the agreed or resolved one; a field the extractors still disagree on shows ``(conflict)``
and one nobody filled is blank. Every file is written so that the same store gives the same bytes
(fixed workbook and zip dates, no dates in the figures): ``review refresh`` with nothing new
reproduces them exactly.
"""
from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from review.extraction import Key, ValueState, confirmed_designs, final_values, forms_for
from review.forms import Form
from review.models import DESIGN_TIER

CONFLICT = "(conflict)"
ANECDOTE_DESIGNS = ("case_report", "case_series", "qualitative")
NOT_ASSESSED = "not assessed (anecdote by design)"
STUDY_FIELDS = ("country", "setting", "n_participants", "age_mean", "female_percent", "population", "kratom_product",
                "kratom_dose", "comparator", "adverse_events", "funding", "conflicts_declared")
CHARACTERISTICS_COLUMNS = ["record_id", "study", "year", "design", "tier", "design_source", *STUDY_FIELDS,
                           "rob_tool", "rob_overall", "fulltext", "open_conflicts"]
OUTCOME_FIELDS = ("scale", "time_point", "n_analysed", "effect_measure", "effect", "ci_lower", "ci_upper", "sd",
                  "direction", "finding")
EVIDENCE_COLUMNS = ["claim", "outcome", "record_id", "study", "design", "tier", "n", *OUTCOME_FIELDS, "rob_tool",
                    "rob_overall"]
ROB_COLUMNS = ["record_id", "study", "tool", "domain", "label", "judgement"]
FIXED_DATE = (2000, 1, 1, 0, 0, 0)  # zip entries of the workbooks: fixed, so the bytes depend on the data only
TIER_ORDER = ("trial", "observational", "anecdotal", "preclinical", "secondary", "opinion_other", "unclassified")


@dataclass(frozen=True)
class Tables:
    characteristics: pd.DataFrame
    evidence: pd.DataFrame
    rob: pd.DataFrame


def _value(states: Mapping[Key, ValueState], key: Key) -> str:
    st = states.get(key)
    if st is None:
        return ""
    if st.status == "conflict":
        return CONFLICT
    return st.final or ""


def study_label(record) -> str:
    """'Author Year', as evidence tables name studies."""
    return f"{(record.first_author or '').strip() or 'Anon'} {record.year or 'n.d.'}"


def build_tables(store, forms: Mapping[str, Form], config=None) -> Tables:
    """The three tables for the studies included at full text."""
    states, included = final_values(store, config)
    designs = confirmed_designs(store)
    store_designs = store.designs()
    fulltexts = store.latest_fulltexts()
    rob_forms = {n: f for n, f in forms.items() if f.is_rob}
    chars, evidence, rob = [], [], []
    for rid in sorted(included):
        rec = included[rid]
        label = study_label(rec)
        ext = "extraction" if "extraction" in forms else None
        extracted_design = _value(states, (rid, ext, "", "design")) if ext else ""
        design = extracted_design if extracted_design and extracted_design != CONFLICT else (designs.get(rid) or "")
        d = store_designs.get(rid)
        tier = DESIGN_TIER[design].value if design in DESIGN_TIER else "unclassified"
        source = ("extractors" if extracted_design and extracted_design != CONFLICT
                  else d.tier_source if d else "")
        tool, overall = "", ""
        applicable = forms_for(designs.get(rid), rob_forms)
        if applicable:
            name = applicable[0]
            form = rob_forms[name]
            tool = name
            overall = _value(states, (rid, name, "", "overall"))
            for f in form.domains():
                rob.append({"record_id": rid, "study": label, "tool": name, "domain": f.name, "label": f.heading,
                            "judgement": _value(states, (rid, name, "", f.name))})
        elif (designs.get(rid) or "") in ANECDOTE_DESIGNS:
            tool = NOT_ASSESSED
        ft = fulltexts.get(rid)
        row = {"record_id": rid, "study": label, "year": rec.year, "design": design, "tier": tier,
               "design_source": source, "rob_tool": tool, "rob_overall": overall,
               "fulltext": (ft["source"] if ft and ft["status"] == "retrieved"
                            else "not found (review fulltext)" if ft else ""),
               "open_conflicts": sum(1 for k, s in states.items() if k[0] == rid and s.status == "conflict")}
        for fname in STUDY_FIELDS:
            row[fname] = _value(states, (rid, ext, "", fname)) if ext else ""
        chars.append(row)
        n_study = row["n_participants"]
        items = sorted({k[2] for k in states if k[0] == rid and k[1] == ext and k[2]}, key=int)
        for item in items:
            outcome = _value(states, (rid, ext, item, "outcome"))
            if not outcome:
                continue
            e = {"claim": _value(states, (rid, ext, item, "claim")), "outcome": outcome, "record_id": rid,
                 "study": label, "design": design, "tier": tier}
            for fname in OUTCOME_FIELDS:
                e[fname] = _value(states, (rid, ext, item, fname))
            e["n"] = e["n_analysed"] or n_study
            e["rob_tool"], e["rob_overall"] = tool, overall
            evidence.append(e)
    ev = pd.DataFrame(evidence, columns=EVIDENCE_COLUMNS)
    if len(ev):
        tier_rank = {t: i for i, t in enumerate(TIER_ORDER)}
        ev = ev.assign(_t=ev["tier"].map(tier_rank)).sort_values(
            ["claim", "outcome", "_t", "record_id"], kind="stable").drop(columns="_t").reset_index(drop=True)
    return Tables(pd.DataFrame(chars, columns=CHARACTERISTICS_COLUMNS), ev, pd.DataFrame(rob, columns=ROB_COLUMNS))


# ------------------------------------------------------------------ files

def to_markdown(df: pd.DataFrame) -> str:
    """A plain pipe table (no tabulate dependency); pipes in cells escaped."""
    def cell(v: Any) -> str:
        text = "" if v is None or (isinstance(v, float) and v != v) else str(v)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(df.columns) + " |", "| " + " | ".join("---" for _ in df.columns) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_xlsx(sheets: Sequence[tuple[str, pd.DataFrame]], path: Path) -> None:
    """An Excel workbook whose bytes depend on the data only (fixed document and zip dates)."""
    import datetime as dt

    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for name, df in sheets:
        ws = wb.create_sheet(name[:31])
        ws.append(list(df.columns))
        for c in ws[1]:
            c.font = Font(bold=True)
        for row in df.itertuples(index=False):
            ws.append([None if (isinstance(v, float) and v != v) or v is pd.NA else v for v in row])
        ws.freeze_panes = "A2"
    fixed = dt.datetime(*FIXED_DATE)
    wb.properties.created = wb.properties.modified = fixed
    wb.properties.creator = "kratom-review"
    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl stamps the save time into docProps/core.xml and every zip entry: rewrite both.
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>",
                              b'<dcterms:modified xsi:type="dcterms:W3CDTF">2000-01-01T00:00:00Z</dcterms:modified>',
                              data)
            zi = zipfile.ZipInfo(info.filename, FIXED_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, data)
    path.write_bytes(out.getvalue())


def write_tables(tables: Tables, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, df in (("characteristics_of_included_studies", tables.characteristics),
                     ("evidence_by_claim_outcome", tables.evidence), ("risk_of_bias", tables.rob)):
        df.to_csv(out_dir / f"{stem}.csv", index=False, lineterminator="\n")
        (out_dir / f"{stem}.md").write_text(to_markdown(df), encoding="utf-8")
        written += [out_dir / f"{stem}.csv", out_dir / f"{stem}.md"]
    write_xlsx([("characteristics", tables.characteristics), ("evidence", tables.evidence),
                ("risk_of_bias", tables.rob)], out_dir / "characteristics_of_included_studies.xlsx")
    written.append(out_dir / "characteristics_of_included_studies.xlsx")
    return written


# ------------------------------------------------------------------ the traffic-light figure

def traffic_light(rob: pd.DataFrame, forms: Mapping[str, Form], path_stem: Path) -> list[Path]:
    """robvis layout per tool: rows studies, columns domains, coloured circles; beside it the summary bars."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    judged = rob[rob["judgement"] != ""] if len(rob) else rob
    tools = [t for t in forms if t in set(judged["tool"])] if len(judged) else []  # tools with any judgement
    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"svg.hashsalt": "kratom-review", "font.size": 9, "svg.fonttype": "none"}):
        if not tools:
            fig, ax = plt.subplots(figsize=(6, 1.2))
            ax.axis("off")
            ax.text(0.5, 0.5, "No risk-of-bias judgements yet", ha="center", va="center")
            heights = []
        else:
            heights = [max(2.2, 0.42 * rob[rob["tool"] == t]["study"].nunique() + 1.6) for t in tools]
            fig, axes = plt.subplots(len(tools), 2, figsize=(13, sum(heights)), squeeze=False,
                                     gridspec_kw={"height_ratios": heights, "width_ratios": [1.25, 1]})
            for (ax, bars), tool in zip(axes, tools):
                _panel(ax, bars, rob[rob["tool"] == tool], forms[tool], Patch)
        fig.tight_layout()
        out = [path_stem.with_suffix(".png"), path_stem.with_suffix(".svg")]
        fig.savefig(out[0], dpi=120, metadata={"Software": None})
        fig.savefig(out[1], metadata={"Date": None, "Creator": None})
        plt.close(fig)
    return out


def _panel(ax, bars, df: pd.DataFrame, form: Form, Patch) -> None:
    domains = list(form.domains())
    studies = list(dict.fromkeys(df.sort_values("record_id", kind="stable")["study"] + "  [" +
                                 df.sort_values("record_id", kind="stable")["record_id"].astype(str) + "]"))
    df = df.assign(key=df["study"] + "  [" + df["record_id"].astype(str) + "]")
    colours = dict(form.colours)
    blank = "#FFFFFF"
    for i, s in enumerate(studies):
        row = df[df["key"] == s].set_index("domain")["judgement"]
        for j, f in enumerate(domains):
            j_val = row.get(f.name, "")
            colour = colours.get(j_val, blank)
            ax.scatter(j, i, s=420, c=colour, edgecolors="#555555", linewidths=0.8, zorder=3)
            ax.text(j, i, _symbol(j_val), ha="center", va="center", fontsize=8, zorder=4)
    ax.set_xticks(range(len(domains)))
    ax.set_xticklabels([f.name.split("_")[0] if f.name != "overall" else "Overall" for f in domains])
    ax.set_yticks(range(len(studies)))
    ax.set_yticklabels(studies)
    ax.set_xlim(-0.6, len(domains) - 0.4)
    ax.set_ylim(len(studies) - 0.5, -0.5)
    ax.xaxis.tick_top()
    ax.set_title(form.title, loc="left", fontsize=10, pad=22)
    ax.grid(False)
    for side in ("right", "bottom", "left", "top"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    judgements = _judgements(form)
    ax.legend(handles=[Patch(facecolor=colours.get(j, blank), edgecolor="#555555", label=j) for j in judgements],
              loc="upper left", bbox_to_anchor=(0, 0), ncol=len(judgements), frameon=False, fontsize=8)
    # summary: share of studies per judgement, per domain (robvis' weighted bar chart, unweighted here)
    names = [f.heading for f in domains][::-1]
    left = [0.0] * len(domains)
    for jdg in judgements:
        share = []
        for f in domains[::-1]:
            col = df[df["domain"] == f.name]["judgement"]
            share.append(100.0 * (col == jdg).sum() / max(len(studies), 1))
        bars.barh(names, share, left=left, color=colours.get(jdg, blank), edgecolor="#555555", linewidth=0.5,
                  label=jdg)
        left = [a + b for a, b in zip(left, share)]
    missing = [100.0 - x for x in left]
    bars.barh(names, missing, left=left, color=blank, edgecolor="#BBBBBB", linewidth=0.5, label="not judged")
    bars.set_xlim(0, 100)
    bars.set_xlabel("% of studies")
    for side in ("right", "top"):
        bars.spines[side].set_visible(False)


def _judgements(form: Form) -> list[str]:
    seen: list[str] = []
    for f in form.domains():
        for c in f.choices:
            if c not in seen:
                seen.append(c)
    return seen


_SYMBOLS = {"low": "+", "yes": "+", "some concerns": "-", "moderate": "-", "unclear": "?", "high": "x",
            "serious": "x", "no": "x", "critical": "!", "no information": "?", "not applicable": ""}


def _symbol(judgement: str) -> str:
    return _SYMBOLS.get(judgement, "")


def write_outputs(store, forms: Mapping[str, Form], out_dir: Path, config=None) -> tuple[Tables, list[Path]]:
    """Every extraction table and the traffic-light figure under out_dir; returns the tables and the files."""
    tables = build_tables(store, forms, config)
    files = write_tables(tables, Path(out_dir))
    files += traffic_light(tables.rob, forms, Path(out_dir) / "risk_of_bias_traffic_light")
    return tables, files


KIND_LABELS = {"trial": "Trial", "observational": "Observational", "anecdotal": "Anecdote"}
FINDINGS_COLUMNS = ["claim", "evidence", "study", "record_id", "design", "n", "outcome", "result", "rob_tool",
                    "rob_overall"]


def _result(e: Mapping[str, Any]) -> str:
    parts = [e.get("finding") or ""]
    if e.get("effect"):
        eff = f"{e.get('effect_measure') or 'effect'} {e['effect']}"
        if e.get("ci_lower") and e.get("ci_upper"):
            eff += f" (95% CI {e['ci_lower']} to {e['ci_upper']})"
        elif e.get("sd"):
            eff += f" (SD {e['sd']})"
        parts.append(eff)
    for k in ("scale", "time_point", "direction"):
        if e.get(k):
            parts.append(str(e[k]))
    return "; ".join(p for p in parts if p)


def claim_findings(tables: Tables) -> pd.DataFrame:
    """Per claim, trial findings first, then observational, then anecdote, each with its risk of bias.

    Outcome rows carry the claim their extractors named; an included anecdotal study with no outcome row
    is listed under '(no claim named)' so that anecdote is never silently left out.
    """
    rows = []
    for e in tables.evidence.to_dict("records"):
        if e["tier"] not in KIND_LABELS:
            continue
        rows.append({"claim": e["claim"] or "(no claim named)", "evidence": KIND_LABELS[e["tier"]],
                     "study": e["study"], "record_id": e["record_id"], "design": e["design"], "n": e["n"],
                     "outcome": e["outcome"], "result": _result(e), "rob_tool": e["rob_tool"],
                     "rob_overall": e["rob_overall"] or ("" if e["rob_tool"] == NOT_ASSESSED else "not judged yet")})
    with_rows = {r["record_id"] for r in rows}
    for c in tables.characteristics.to_dict("records"):
        if c["tier"] == "anecdotal" and c["record_id"] not in with_rows:
            rows.append({"claim": "(no claim named)", "evidence": "Anecdote", "study": c["study"],
                         "record_id": c["record_id"], "design": c["design"], "n": c["n_participants"],
                         "outcome": "", "result": c["adverse_events"] or "", "rob_tool": c["rob_tool"],
                         "rob_overall": ""})
    df = pd.DataFrame(rows, columns=FINDINGS_COLUMNS)
    if len(df):
        rank = {v: i for i, v in enumerate(KIND_LABELS.values())}
        df = df.assign(_k=df["evidence"].map(rank), _c=df["claim"].eq("(no claim named)")).sort_values(
            ["_c", "claim", "_k", "record_id"], kind="stable").drop(columns=["_k", "_c"]).reset_index(drop=True)
    return df
