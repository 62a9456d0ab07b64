"""Benchmark `review.dedupe.find_duplicates` against bib-dedupe on every dataset in shared/data/dedup.

    .venv/bin/python benchmarks/dedupe.py [--data DIR] [--repeat 3] [--no-peer] [--show-errors]

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of ours (median)")
    parser.add_argument("--no-peer", action="store_true", help="skip bib-dedupe")
    parser.add_argument("--show-errors", action="store_true", help="print missed and false pairs")
    args = parser.parse_args(argv)

    datasets = sorted(p for p in args.data.iterdir() if (p / "records.csv").exists())
    if not datasets:
        print(f"no datasets (records.csv + truth.csv) under {args.data}", file=sys.stderr)
        return 1
    python = None if args.no_peer else ensure_peer_venv()
    rows = []
    for path in datasets:
        df = pd.read_csv(path / "records.csv")
        truth = truth_pairs(path / "truth.csv")
        ours = run_ours(df, path / "records.csv", args.repeat)
        ours_score = score(cluster_pairs(ours["clusters"]), truth)
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
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}", na_rep=""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
