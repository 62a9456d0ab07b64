"""Benchmark `review.classify`: per-design and per-tier precision, recall, confusion matrices, and records/s.

    .venv/bin/python benchmarks/classify.py [--sample FILE] [--n 50000] [--runs 5] [--workers 2] [--json OUT]

Evaluations:
  1. the labelled kratom sample (shared/data/kratom_sample), text only: title, abstract, journal (the
     acceptance figures of issue 4: tier accuracy >= 0.90, trial recall 1.0 with precision >= 0.9,
     anecdotal precision >= 0.95);
  2. the same records with the page's article-type label given as a publication type;
  3. PubMed fixtures with publication types and MeSH: the shared efetch XML and MEDLINE records
     (labels in tests/data/classify/pubmed_fixture_labels.json) and the hand-written records that carry
     publication types or MeSH;
  4. all hand-written abstracts (tests/data/classify/handwritten*.jsonl), which are not in the sample;
  5. throughput: sample records replicated to --n, classified in one process (median wall and CPU time
     of --runs runs, and the best run: other jobs on the machine only slow runs down) and with
     classify_many(workers=--workers).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from review.classify import classify, classify_many, record_from_mapping  # noqa: E402
from review.errors import InputError  # noqa: E402
from review.models import DESIGN_TIER, DESIGNS, AbstractSection, MeshHeading, Record, Tier  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
DATA = ROOT / "tests" / "data" / "classify"
TIERS = tuple(t.value for t in Tier)
TIER_ABBR = {"trial": "trial", "observational": "obs", "anecdotal": "anec", "preclinical": "precl",
             "secondary": "second", "opinion_other": "opin"}


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {n}: not valid JSON ({exc.msg})") from None
    return rows


def sample_records(path: Path, with_page_label: bool) -> list[tuple[Record, str]]:
    """(Record, label) from the kratom sample; labels, evidence and URLs never reach the Record."""
    out = []
    for n, row in enumerate(read_jsonl(path), 1):
        for key in ("title", "design"):
            if key not in row:
                raise InputError(f"{path}: line {n}: missing field '{key}'")
        if row["design"] not in DESIGN_TIER:
            raise InputError(f"{path}: line {n}: unknown design {row['design']!r}")
        shown = row.get("article_type_shown") if with_page_label else None
        out.append((Record(source="sample", source_id=str(n), title=row["title"],
                           abstract=(AbstractSection(row["abstract"]),) if row.get("abstract") else (),
                           journal=row.get("journal"), publication_types=(shown,) if shown else ()),
                    row["design"]))
    return out


def medline_records(path: Path) -> list[Record]:
    """Minimal MEDLINE (.nbib) reader: PMID, TI, AB, PT, MH (* = major), OT, TA/JT."""
    records, tags, last = [], {}, None

    def flush() -> None:
        if "PMID" in tags:
            mesh = tuple(MeshHeading(m.lstrip("*").split("/")[0], major=m.startswith("*")) for m in tags.get("MH", []))
            records.append(Record(source="medline", source_id=tags["PMID"][0], pmid=tags["PMID"][0],
                                  title=" ".join(tags.get("TI", [])) or None,
                                  abstract=(AbstractSection(" ".join(tags["AB"])),) if "AB" in tags else (),
                                  publication_types=tuple(tags.get("PT", [])), mesh=mesh,
                                  keywords=tuple(tags.get("OT", [])),
                                  journal=(tags.get("JT") or tags.get("TA") or [None])[0]))

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            flush()
            tags, last = {}, None
        elif line.startswith("      ") and last:
            tags[last][-1] += " " + line.strip()
        elif len(line) > 4 and line[4] == "-":
            last = line[:4].strip()
            tags.setdefault(last, []).append(line[6:].strip())
    flush()
    return records


def pubmed_fixture_records() -> list[tuple[Record, str, str]]:
    """(Record, label, origin) for the shared PubMed fixtures and hand-written records with indexing."""
    labels = json.loads((DATA / "pubmed_fixture_labels.json").read_text(encoding="utf-8"))
    records: list[Record] = []
    try:
        from review.parse.pubmed_xml import iter_pubmed_xml
        for name in ("pubmed1.xml", "pubmed2.xml"):
            records += [r for r in iter_pubmed_xml(SHARED / "entrez" / name) if not r.deleted]
    except ImportError:  # the parser lives in another step; without it, only MEDLINE fixtures are scored
        print("note: review.parse.pubmed_xml not available; efetch XML fixtures skipped")
    for name in ("pubmed_result1.txt", "pubmed_result2.txt"):
        records += medline_records(SHARED / "medline" / name)
    out = [(r, labels[r.pmid]["design"], "shared fixture") for r in records if r.pmid in labels]
    for name in ("handwritten.jsonl", "handwritten_heldout.jsonl"):
        for row in read_jsonl(DATA / name):
            if row["record"].get("publication_types") or row["record"].get("mesh"):
                out.append((record_from_mapping(row["record"], row["id"]), row["design"], "hand-written"))
    return out


def handwritten_records() -> list[tuple[Record, str]]:
    return [(record_from_mapping(row["record"], row["id"]), row["design"])
            for name in ("handwritten.jsonl", "handwritten_heldout.jsonl", "handwritten_heldout2.jsonl")
            for row in read_jsonl(DATA / name)]


def scores(pairs: list[tuple[str, str]], labels: tuple[str, ...]) -> list[tuple[str, float, float, float, int, int]]:
    """(label, precision, recall, f1, support, predicted) per label that occurs."""
    out = []
    for label in labels:
        tp = sum(1 for want, got in pairs if want == got == label)
        predicted = sum(1 for _, got in pairs if got == label)
        support = sum(1 for want, _ in pairs if want == label)
        if not (predicted or support):
            continue
        p = tp / predicted if predicted else float("nan")
        r = tp / support if support else float("nan")
        f1 = 2 * p * r / (p + r) if predicted and support and (p + r) else float("nan")
        out.append((label, p, r, f1, support, predicted))
    return out


def print_scores(title: str, pairs: list[tuple[str, str]], labels: tuple[str, ...]) -> None:
    print(f"\n{title}")
    print(f"  {'':32s} {'prec':>6s} {'recall':>6s} {'f1':>6s} {'n':>4s} {'pred':>4s}")
    for label, p, r, f1, n, pred in scores(pairs, labels):
        print(f"  {label:32s} {p:6.2f} {r:6.2f} {f1:6.2f} {n:4d} {pred:4d}")


def print_confusion(title: str, pairs: list[tuple[str, str]], labels: tuple[str, ...], abbr=None) -> None:
    used = [lab for lab in labels if any(lab in pair for pair in pairs)]
    counts = Counter(pairs)
    short = {lab: (abbr or {}).get(lab, lab[:6]) for lab in used}
    print(f"\n{title} (rows: label, columns: predicted)")
    print("  " + " " * 30 + " ".join(f"{short[lab]:>6s}" for lab in used))
    for want in used:
        print(f"  {want:30s}" + " ".join(f"{counts[(want, got)] or '.':>6}" for got in used))


def evaluate(name: str, items: list[tuple[Record, str]], show_errors: bool) -> dict:
    results = [(label, classify(record)) for record, label in items]
    design_pairs = [(label, d.design) for label, d in results]
    tier_pairs = [(DESIGN_TIER[label].value, d.tier.value) for label, d in results]
    n = len(items)
    tier_acc = sum(a == b for a, b in tier_pairs) / n
    design_acc = sum(a == b for a, b in design_pairs) / n
    print(f"\n=== {name}: {n} records; tier accuracy {tier_acc:.3f}, design accuracy {design_acc:.3f}")
    print_scores("per tier", tier_pairs, TIERS)
    print_confusion("tier confusion", tier_pairs, TIERS, TIER_ABBR)
    print_scores("per design", design_pairs, DESIGNS)
    print_confusion("design confusion", design_pairs, DESIGNS)
    if show_errors:
        for (record, label), (_, d) in zip(items, results):
            if d.design != label:
                print(f"  miss: {label} -> {d.design} ({d.confidence}): {(record.title or '')[:70]!r}")
                print(f"        {d.reasons[0][:110]}")
    tier = {lab: {"precision": p, "recall": r, "f1": f1, "support": s}
            for lab, p, r, f1, s, _ in scores(tier_pairs, TIERS)}
    return {"records": n, "tier_accuracy": tier_acc, "design_accuracy": design_acc, "tier": tier,
            "design": {lab: {"precision": p, "recall": r, "f1": f1, "support": s}
                       for lab, p, r, f1, s, _ in scores(design_pairs, DESIGNS)},
            "tier_confusion": [[w, g, c] for (w, g), c in Counter(tier_pairs).items()],
            "design_confusion": [[w, g, c] for (w, g), c in Counter(design_pairs).items()]}


def throughput(records: list[Record], n: int, workers: int, runs: int = 5) -> dict:
    many = (records * (n // len(records) + 1))[:n]
    classify_many(many[:2000])  # warm up
    walls, cpus = [], []
    for _ in range(max(1, runs)):
        wall, cpu = time.perf_counter(), time.process_time()
        classify_many(many)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    out = {"records": n, "runs": len(walls), "wall_per_s": n / wall, "cpu_per_s": n / cpu,
           "best_wall_per_s": n / min(walls)}
    print(f"\n=== throughput: {n} records, one process, median of {len(walls)} runs: {n / wall:,.0f} records/s "
          f"wall, {n / cpu:,.0f} records/s of CPU time (best run {n / min(walls):,.0f} records/s)")
    if workers > 1:
        wall = time.perf_counter()
        classify_many(many, workers=workers)
        wall = time.perf_counter() - wall
        out[f"wall_per_s_{workers}_workers"] = n / wall
        print(f"    classify_many(workers={workers}): {n / wall:,.0f} records/s wall")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    out["load_average_1min"] = load
    print(f"    (1-minute load average {load:.2f} on {os.cpu_count()} cores; other work on the machine lowers "
          f"wall figures)")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=Path, default=SHARED / "kratom_sample" / "records.jsonl")
    ap.add_argument("--n", type=int, default=50_000, help="records for the throughput run")
    ap.add_argument("--workers", type=int, default=2, help="processes for the parallel throughput run")
    ap.add_argument("--runs", type=int, default=5, help="single-process throughput runs (the median is reported)")
    ap.add_argument("--show-errors", action="store_true", help="list misclassified records")
    ap.add_argument("--json", type=Path, help="also write all figures to this JSON file")
    args = ap.parse_args(argv)
    try:
        text_only = sample_records(args.sample, with_page_label=False)
        report = {"sample_text_only": evaluate("kratom sample, text only", text_only, args.show_errors)}
        figures = report["sample_text_only"]
        trial, anecdotal = figures["tier"]["trial"], figures["tier"].get("anecdotal", {})
        checks = {"tier accuracy >= 0.90": figures["tier_accuracy"] >= 0.90,
                  "trial recall = 1.0": trial["recall"] == 1.0,
                  "trial precision >= 0.9": trial["precision"] >= 0.9,
                  "anecdotal precision >= 0.95": anecdotal.get("precision", 0) >= 0.95}
        print("\nacceptance: " + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items()))
        report["acceptance"] = checks
        report["sample_page_label"] = evaluate("kratom sample, page article-type label as publication type",
                                               sample_records(args.sample, with_page_label=True), args.show_errors)
        fixtures = pubmed_fixture_records()
        report["pubmed_fixtures"] = evaluate("PubMed fixtures with publication types / MeSH",
                                             [(r, lab) for r, lab, _ in fixtures], args.show_errors)
        report["handwritten"] = evaluate("hand-written abstracts (not in the sample)", handwritten_records(),
                                         args.show_errors)
        report["throughput"] = throughput([r for r, _ in text_only], args.n, args.workers, args.runs)
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
