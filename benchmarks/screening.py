"""Simulate prioritised title/abstract screening and report the work saved at 95% recall.

    .venv/bin/python benchmarks/screening.py [--seeds 10] [--batch 1] [--recall 0.95]
        [--dataset FILE.csv ...] [--scale N]

Default data: the kratom sample (shared/data/kratom_sample/records.jsonl) with the hand labels in
benchmarks/data/kratom_screening_labels.csv (criteria in benchmarks/data/README.md). --dataset adds
labelled sets in the ASReview/SYNERGY CSV shape (title, abstract, label_included).

Each run starts, as ASReview's simulations do, from one random include and one random exclude;
then the reviewer screens the `--batch` records that `review.screening.prioritise` (the ranking
`review screen export --order prioritised` uses) puts first, and the model is retrained. It stops
when the share `--recall` of the includes has been found. Random order is the same reviewer
screening a random permutation. Work saved = (records screened in random order - records screened
prioritised) / records, at the same recall; WSS@95 = (N - screened) / N - 0.05 (Cohen et al. 2006).

--scale N also times export, fill and import of a sheet of N records (xlsx and csv).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from review.screening import prioritise  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "kratom_sample" / "records.jsonl"
LABELS = ROOT / "benchmarks" / "data" / "kratom_screening_labels.csv"


def load_kratom(records: Path = SAMPLE, labels: Path = LABELS) -> tuple[list[str], list[bool]]:
    """Texts (title + abstract) and labels, joined by line number and checked by title."""
    lines = records.read_text(encoding="utf-8").splitlines()
    texts, ys = [], []
    with open(labels, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            rec = json.loads(lines[int(row["line"]) - 1])
            if rec["title"] != row["title"]:
                raise SystemExit(f"{labels}: line {row['line']} title does not match {records}")
            texts.append(f"{rec['title'] or ''}\n{rec['abstract'] or ''}")
            ys.append(row["label"] == "include")
    if len(ys) != len(lines):
        raise SystemExit(f"{labels}: {len(ys)} labels for {len(lines)} records")
    return texts, ys


def load_asreview_csv(path: Path) -> tuple[list[str], list[bool]]:
    """A labelled set in the ASReview/SYNERGY CSV shape: title, abstract, label_included (0/1)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows = [r for r in rows if (r.get("label_included") or "").strip() in ("0", "1")]
    return ([f"{r.get('title') or ''}\n{r.get('abstract') or ''}" for r in rows],
            [r["label_included"].strip() == "1" for r in rows])


def simulate(texts: list[str], ys: list[bool], seed: int, target: int, batch: int) -> int:
    """Records screened (priors included) until `target` includes are found, prioritised order."""
    rng = random.Random(seed)
    inc = [i for i, y in enumerate(ys) if y]
    exc = [i for i, y in enumerate(ys) if not y]
    screened = [rng.choice(inc), rng.choice(exc)]
    found = 1
    left = set(range(len(ys))) - set(screened)
    while found < target:
        ranked, _ = prioritise([(i, texts[i]) for i in sorted(left)], [(texts[i], ys[i]) for i in screened])
        for i in ranked[:batch]:
            screened.append(i)
            left.discard(i)
            found += ys[i]
            if found >= target:
                break
    return len(screened)


def random_order(ys: list[bool], seed: int, target: int) -> int:
    order = list(range(len(ys)))
    random.Random(10_000 + seed).shuffle(order)
    found = 0
    for n, i in enumerate(order, start=1):
        found += ys[i]
        if found >= target:
            return n
    return len(ys)


def run(name: str, texts: list[str], ys: list[bool], seeds: int, batch: int, recall: float) -> None:
    n, n_inc = len(ys), sum(ys)
    target = math.ceil(recall * n_inc)
    t0 = time.perf_counter()
    prio = [simulate(texts, ys, s, target, batch) for s in range(seeds)]
    seconds = time.perf_counter() - t0
    rand = [random_order(ys, s, target) for s in range(seeds)]
    expected_random = target * (n + 1) / (n_inc + 1)  # mean position of the target-th include
    saved = [(r - p) / n for p, r in zip(prio, rand)]
    wss = [(n - p) / n - (1 - recall) for p in prio]

    def ms(xs):
        return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs):.3f}" if len(xs) > 1 else f"{xs[0]:.3f}"

    print(f"\n{name}: {n} records, {n_inc} includes ({n_inc / n:.0%}); {recall:.0%} recall = {target} includes; "
          f"{seeds} seeds, batch {batch}")
    print(f"  screened to {recall:.0%} recall, prioritised: mean {statistics.mean(prio):.1f} of {n} "
          f"(min {min(prio)}, max {max(prio)})")
    print(f"  screened to {recall:.0%} recall, random order: mean {statistics.mean(rand):.1f} "
          f"(expected {expected_random:.1f})")
    print(f"  work saved vs random order (share of all records): {ms(saved)}; vs expected random: "
          f"{(expected_random - statistics.mean(prio)) / n:.3f}")
    print(f"  WSS@{recall * 100:.0f}: {ms(wss)}")
    print(f"  time: {seconds:.1f} s for {seeds} simulations ({seconds / max(sum(prio), 1) * 1000:.0f} ms per "
          "record screened, one model fit each)")


def scale(n: int) -> None:
    """Time export, fill and import of one reviewer's sheet of n records, xlsx and csv."""
    import openpyxl

    from review.models import AbstractSection, Record
    from review.screening import export_sheet, import_sheet
    from review.store import Store

    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    recs = []
    for i in range(n):
        d = json.loads(lines[i % len(lines)])
        recs.append(Record(source="scale", source_id=str(i), title=f"{d['title']} ({i})", year=d["year"],
                           abstract=(AbstractSection(d["abstract"] or ""),), journal=d["journal"]))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = Store.open(tmp / "s.sqlite")
        store.upsert_records(recs)
        print(f"\nscale: one reviewer's title/abstract sheet of {n} records")
        for suffix in ("xlsx", "csv"):
            out = tmp / f"{suffix}-sheet.{suffix}"
            reviewer = f"r-{suffix}"
            t0 = time.perf_counter()
            export_sheet(store, "title_abstract", reviewer, out)
            t1 = time.perf_counter()
            if suffix == "xlsx":
                wb = openpyxl.load_workbook(out)
                ws = wb["screening"]
                for row in ws.iter_rows(min_row=2):
                    row[10].value = "include" if row[0].row % 3 else "exclude"
                wb.save(out)
            else:
                with open(out, encoding="utf-8-sig", newline="") as fh:
                    rows = list(csv.reader(fh))
                d = rows[0].index("decision")
                for k, row in enumerate(rows[1:]):
                    row[d] = "include" if k % 3 else "exclude"
                with open(out, "w", encoding="utf-8-sig", newline="") as fh:
                    csv.writer(fh).writerows(rows)
            t2 = time.perf_counter()
            summary = import_sheet(store, out, reviewer)
            t3 = time.perf_counter()
            print(f"  {suffix}: export {t1 - t0:.2f} s ({out.stat().st_size / 1e6:.1f} MB), import {t3 - t2:.2f} s "
                  f"({summary.new} decisions)")
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--batch", type=int, default=1, help="records screened between model refits")
    ap.add_argument("--recall", type=float, default=0.95)
    ap.add_argument("--dataset", type=Path, action="append", default=[],
                    help="extra labelled CSV (title, abstract, label_included)")
    ap.add_argument("--scale", type=int, default=0, help="also time a sheet of this many records")
    args = ap.parse_args()
    texts, ys = load_kratom()
    run("kratom sample (hand-labelled: kratom and opioid withdrawal/use disorder in humans)", texts, ys,
        args.seeds, args.batch, args.recall)
    for path in args.dataset:
        texts, ys = load_asreview_csv(path)
        run(path.name, texts, ys, args.seeds, args.batch, args.recall)
    if args.scale:
        scale(args.scale)


if __name__ == "__main__":
    main()
