"""Benchmark `review.dedupe.find_duplicates` against bib-dedupe on every dataset in shared/data/dedup.

    .venv/bin/python benchmarks/dedupe.py [--data DIR] [--repeat 3] [--no-peer] [--show-errors] [--quick]

Prints three tables: per set, ours and bib-dedupe in the same run (pairs found, false merges,
recall, seconds, speed ratio); leave-one-set-out; and recall and false merges under the kinds of
noise real exports show (benchmarks/perturb.py), plus distinct records sharing generic titles and
corrections/retractions/comments next to their articles.

Our engine runs in this process; bib-dedupe runs in its own virtual environment
(benchmarks/.venv-bibdedupe, created on first use with `pip install bib-dedupe==0.11.*`)
through a subprocess that times prep+block+match+cluster in-process and prints JSON.
Both are scored pairwise against truth.csv (one group of duplicate IDs per row).
"""
from __future__ import annotations

import argparse
import inspect
import itertools
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from review.dedupe import find_duplicates  # noqa: E402
from review.dedupe.normalise import clear_caches  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dedup"
PEER_VENV = ROOT / "benchmarks" / ".venv-bibdedupe"
PEER_PACKAGE = "bib-dedupe==0.11.*"



class Peak:
    """Peak resident memory (MB) during a with-block, from the kernel's high-water mark.

    Linux lets a process reset its own mark (/proc/self/clear_refs), so one process can
    measure several runs one after another.
    """

    peak_mb = delta_mb = float("nan")

    @staticmethod
    def _kb(key: str) -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def __enter__(self) -> "Peak":
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        self.before = self._kb("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        high = self._kb("VmHWM")
        self.peak_mb, self.delta_mb = high / 1024, (high - self.before) / 1024


# Runs inside the bib-dedupe venv: time the four steps, report clusters and peak memory.
PEER_RUNNER = "from __future__ import annotations\n" + inspect.getsource(Peak) + r"""
import json, resource, sys, time
import pandas as pd
import bib_dedupe.bib_dedupe as bd
df = pd.read_csv(sys.argv[1])
with Peak() as peak:
    start = time.perf_counter()
    prepped = bd.prep(df, verbosity_level=0)
    blocked = bd.block(prepped, verbosity_level=0)
    matched = bd.match(blocked, verbosity_level=0)
    clusters = bd.cluster(matched, verbosity_level=0)
    seconds = time.perf_counter() - start
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "clusters": [list(map(str, c)) for c in clusters],
                  "peak_mb": max(peak.peak_mb, children), "delta_mb": peak.delta_mb}))
"""


def ensure_peer_venv() -> Path:
    """The bib-dedupe interpreter, creating its virtual environment on first use."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {PEER_VENV} and installing {PEER_PACKAGE} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        (PEER_VENV / ".gitignore").write_text("*\n")  # never commit the environment
        subprocess.run([str(python), "-m", "pip", "install", "-q", PEER_PACKAGE], check=True)
    return python


def truth_pairs(path: Path) -> set[tuple[str, str]]:
    """All pairs inside the truth groups ('id1;id2;id3' per row)."""
    pairs: set[tuple[str, str]] = set()
    for group in pd.read_csv(path)["merged_ids"].dropna():
        ids = sorted(x.strip() for x in str(group).split(";") if x.strip())
        pairs.update(itertools.combinations(ids, 2))
    return pairs


def cluster_pairs(groups: list[list[str]]) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for group in groups:
        pairs.update(itertools.combinations(sorted(map(str, group)), 2))
    return pairs


def score(predicted: set, truth: set) -> dict[str, float]:
    tp = len(predicted & truth)
    fp, fn = len(predicted - truth), len(truth - predicted)
    return {"tp": tp, "fp": fp, "fn": fn,
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0}


# Peak memory of one find_duplicates call in a fresh interpreter, measured like bib-dedupe's.
OUR_MEMORY_RUNNER = "from __future__ import annotations\n" + inspect.getsource(Peak) + r"""
import json, sys
import pandas as pd
sys.path.insert(0, sys.argv[2])
from review.dedupe import find_duplicates
df = pd.read_csv(sys.argv[1])
with Peak() as peak:
    find_duplicates(df)
print(json.dumps({"peak_mb": peak.peak_mb, "delta_mb": peak.delta_mb}))
"""


def run_ours(df: pd.DataFrame, records: Path, repeat: int) -> dict:
    """Median cold time of find_duplicates in this process, its clusters and its peak memory."""
    times = []
    for _ in range(repeat):
        clear_caches()
        start = time.perf_counter()
        labels = find_duplicates(df)
        times.append(time.perf_counter() - start)
    groups = df["ID"].astype(str).groupby(labels.to_numpy()).agg(list).tolist()
    out = subprocess.run([sys.executable, "-c", OUR_MEMORY_RUNNER, str(records), str(ROOT)],
                         check=True, capture_output=True, text=True)
    memory = json.loads(out.stdout.strip().splitlines()[-1])
    return {"seconds": statistics.median(times), "clusters": [g for g in groups if len(g) > 1],
            **memory}


def run_peer(python: Path, records: Path) -> dict:
    out = subprocess.run([str(python), "-c", PEER_RUNNER, str(records)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _title_similarity(df: pd.DataFrame) -> dict[str, str]:
    from review.dedupe.normalise import norm_title
    return {str(i): norm_title(t) for i, t in zip(df["ID"], df["title"])}


def _filtered(pairs: set, titles: dict[str, str], threshold: float) -> set:
    from rapidfuzz import fuzz
    return {p for p in pairs if fuzz.ratio(titles[p[0]], titles[p[1]]) / 100 >= threshold}


THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def leave_one_set_out(results: dict[str, tuple[set, set, dict]]) -> pd.DataFrame:
    """The engine's rules carry no per-set setting; the one choice made from outside, a minimum title
    similarity for accepting a merge, is chosen on the other sets (0 false merges, then best recall)
    and scored on the held-out set."""
    rows = []
    for held in results:
        train = [n for n in results if n != held]
        best = None
        for t in THRESHOLDS:
            fp = tp = truth_n = 0
            for n in train:
                pred, truth, titles = results[n]
                s = score(_filtered(pred, titles, t), truth)
                fp, tp, truth_n = fp + s["fp"], tp + s["tp"], truth_n + len(truth)
            key = (fp == 0, tp / truth_n if truth_n else 0, -t)
            if best is None or key > best[0]:
                best = (key, t)
        t = best[1]
        pred, truth, titles = results[held]
        s = score(_filtered(pred, titles, t), truth)
        rows.append({"held_out": held, "tuned_on": "+".join(train), "threshold": t,
                     "recall": s["recall"], "false_merges": s["fp"], "engine_recall": score(pred, truth)["recall"]})
    return pd.DataFrame(rows)


def perturbation_table(datasets: list[Path], per_kind: int, seed: int = 11) -> pd.DataFrame:
    """Recall and false merges with one side of sampled true pairs perturbed, per noise kind."""
    import random

    from benchmarks import perturb
    from review.dedupe import match
    from review.dedupe.normalise import normalise_table, raw_table

    rows = []
    frames = {p.name: (pd.read_csv(p / "records.csv", dtype=str, keep_default_na=False), truth_pairs(p / "truth.csv"))
              for p in datasets}
    for kind, noise in perturb.NOISE.items():
        found = sampled = false = to_person = 0
        for name, (df, truth) in frames.items():
            rng = random.Random(f"{seed}-{kind}-{name}")
            by_id = {r["ID"]: r for r in df.to_dict("records")}
            pairs = rng.sample(sorted(truth), min(per_kind, len(truth)))
            changed = {}
            for a, b in pairs:
                if b not in changed and a not in changed:
                    changed[b] = noise(dict(by_id[b]), rng)
            frame = pd.DataFrame([changed.get(i, r) for i, r in by_id.items()])
            result = match.run(normalise_table(raw_table(frame), list(frame["ID"])))
            predicted = cluster_pairs(frame["ID"].groupby(result.labels).agg(list).tolist())
            ids = frame["ID"].tolist()
            asked = {tuple(sorted((ids[i], ids[j]))) for i, j in zip(result.uncertain["i"], result.uncertain["j"])}
            tested = [(a, b) for a, b in pairs if b in changed and a not in changed]
            found += sum((a, b) in predicted for a, b in tested)
            to_person += sum((a, b) not in predicted and tuple(sorted((a, b))) in asked for a, b in tested)
            sampled += len(tested)
            false += len(predicted - truth)
        missed = sampled - found
        rows.append({"noise": kind, "pairs": sampled, "recall": found / sampled if sampled else float("nan"),
                     "false_merges": false,
                     "missed_sent_to_person": to_person / missed if missed else float("nan")})
    # Distinct records that share a generic title (same author, journal, year, volume; issues 1-4).
    false = linked = notices = merged = 0
    for name, (df, truth) in frames.items():
        rng = random.Random(f"{seed}-generic-{name}")
        records = df.to_dict("records")
        generic = perturb.generic_title_records(records, rng)
        frame = pd.DataFrame(records + generic)
        labels = find_duplicates(frame)
        predicted = cluster_pairs(frame["ID"].groupby(labels.to_numpy()).agg(list).tolist())
        false += len(predicted - truth)
        # A correction, retraction or comment next to its article: never merged, linked.
        articles = rng.sample(records, min(per_kind, len(records)))
        extra = [perturb.notice_of(a, rng, k) for k, a in enumerate(articles)]
        frame = pd.DataFrame(records + extra).fillna("")
        result = match.run(normalise_table(raw_table(frame), list(frame["ID"])))
        position = {i: k for k, i in enumerate(frame["ID"])}
        article_of = {position[f"notice-{k}"]: position[a["ID"]] for k, a in enumerate(articles)}
        merged += sum(int(result.labels[n] == result.labels[a]) for n, a in article_of.items())
        linked += sum(1 for link in result.related if link.notice in article_of
                      and result.labels[link.article] == result.labels[article_of[link.notice]])
        notices += len(extra)
    rows.append({"noise": f"distinct notices with generic titles ({len(perturb.GENERIC)} titles x 4 issues per set)",
                 "pairs": 0, "recall": float("nan"), "false_merges": false})
    rows.append({"noise": f"corrections/retractions/comments beside their article ({notices}): merged",
                 "pairs": notices, "recall": float("nan"), "false_merges": merged})
    rows.append({"noise": "  of those, linked to their article as a related report", "pairs": notices,
                 "recall": linked / notices if notices else float("nan"), "false_merges": 0})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of ours (median)")
    parser.add_argument("--no-peer", action="store_true", help="skip bib-dedupe")
    parser.add_argument("--show-errors", action="store_true", help="print missed and false pairs")
    parser.add_argument("--quick", action="store_true", help="one timed run, 100 pairs per noise kind")
    parser.add_argument("--per-kind", type=int, default=300, help="true pairs perturbed per noise kind and set")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.per_kind = 1, 100

    datasets = sorted(p for p in args.data.iterdir() if (p / "records.csv").exists())
    if not datasets:
        print(f"no datasets (records.csv + truth.csv) under {args.data}", file=sys.stderr)
        return 1
    python = None if args.no_peer else ensure_peer_venv()
    rows = []
    results: dict[str, tuple[set, set, dict]] = {}
    for path in datasets:
        df = pd.read_csv(path / "records.csv")
        truth = truth_pairs(path / "truth.csv")
        ours = run_ours(df, path / "records.csv", args.repeat)
        ours_score = score(cluster_pairs(ours["clusters"]), truth)
        results[path.name] = (cluster_pairs(ours["clusters"]), truth, _title_similarity(df))
        rows.append({"dataset": path.name, "tool": "review", "n": len(df), **ours_score,
                     "seconds": ours["seconds"], "peak_mb": ours["peak_mb"],
                     "delta_mb": ours["delta_mb"]})
        if args.show_errors:
            predicted = cluster_pairs(ours["clusters"])
            for label, pairs in (("false", predicted - truth), ("missed", truth - predicted)):
                for a, b in sorted(pairs):
                    print(f"{path.name}: {label} pair {a} {b}")
        if python is not None:
            peer = run_peer(python, path / "records.csv")
            rows.append({"dataset": path.name, "tool": "bib-dedupe", "n": len(df),
                         **score(cluster_pairs(peer["clusters"]), truth),
                         "seconds": peer["seconds"], "peak_mb": peer["peak_mb"],
                         "delta_mb": peer["delta_mb"]})
    table = pd.DataFrame(rows)
    if python is not None:
        ours_time = table[table.tool == "review"].set_index("dataset")["seconds"]
        peer_time = table[table.tool == "bib-dedupe"].set_index("dataset")["seconds"]
        table["speedup"] = table["dataset"].map(peer_time / ours_time).where(table.tool == "review")
    table = table.rename(columns={"tp": "pairs_found", "fp": "false_merges", "fn": "missed"})
    print("=== per set, in one run")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}", na_rep=""))
    if len(results) > 1:
        print("\n=== leave one set out (threshold: minimum title similarity to accept a merge, chosen on the other sets)")
        print(leave_one_set_out(results).to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"\n=== perturbations: one side of up to {args.per_kind} true pairs per set changed; false merges over the "
          "whole set")
    print(perturbation_table(datasets, args.per_kind).to_string(index=False, float_format=lambda x: f"{x:.4f}",
                                                                na_rep=""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
