"""Scale test: deduplicate ~100,000 generated records and score them on the generated truth.

    .venv/bin/python benchmarks/dedupe_scale.py [--records 100000] [--seed 7] [--show-errors 5]

Records come from the benchmark datasets in shared/data/dedup: their real records and
truth are kept, and new works are made by recombining words of real titles with random
authors, journals and citations (so they are NOT duplicates of anything). Every new work
gets one to four copies with realistic variation: typos, case changes, abbreviated
journals, initials vs full names, truncated author lists, missing fields, short page
ranges and DOI spellings. Prints time, peak RSS and pairwise precision/recall.
"""
from __future__ import annotations

import argparse
import itertools
import random
import re
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.dedupe import DEFAULT_DATA, Peak, cluster_pairs, score  # noqa: E402
from review.dedupe import find_duplicates  # noqa: E402

COLUMNS = ["ID", "title", "author", "year", "journal", "volume", "number", "pages", "doi"]
COPIES = (1, 2, 3, 4)
COPY_WEIGHTS = (0.5, 0.32, 0.12, 0.06)
GIVEN = ("Anna", "Ben", "Carlos", "Dana", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas",
         "Kira", "Luis", "Maya", "Nils", "Olga", "Pavel", "Qing", "Rosa", "Sami", "Tara")
STOP = {"of", "the", "and", "for", "in", "on", "de", "la", "et", "&"}


def load_base(data: Path) -> pd.DataFrame:
    """Real records of every dataset with a work id from its truth (singletons get their own)."""
    frames = []
    for path in sorted(p for p in data.iterdir() if (p / "records.csv").exists()):
        df = pd.read_csv(path / "records.csv", dtype=str, keep_default_na=False)
        work = {}
        for k, group in enumerate(pd.read_csv(path / "truth.csv")["merged_ids"]):
            for record_id in str(group).split(";"):
                work[record_id.strip()] = f"{path.name}:g{k}"
        df["work"] = [work.get(i, f"{path.name}:{i}") for i in df["ID"]]
        df["ID"] = path.name[:4] + "-" + df["ID"]
        frames.append(df)
    base = pd.concat(frames, ignore_index=True)
    for column in COLUMNS:
        if column not in base:
            base[column] = ""
    return base[COLUMNS + ["work"]]


class Generator:
    """New works from recombined real words, and varied copies of them."""

    def __init__(self, base: pd.DataFrame, rng: random.Random):
        self.rng = rng
        self.titles = [t.split() for t in base["title"].drop_duplicates() if len(t.split()) >= 6]
        self.surnames = sorted({
            name.split(",")[0].strip()
            for authors in base["author"] for name in authors.split(" and ")
            if "," in name and 2 < len(name.split(",")[0].strip()) < 20
        })
        self.journals = sorted(j for j in base["journal"].unique() if len(j) > 3)
        self.seen_titles: set[str] = set()

    def work(self, number: int) -> dict[str, str]:
        """One new work whose title mixes the start of one real title and the end of another."""
        rng = self.rng
        while True:
            a, b = rng.choice(self.titles), rng.choice(self.titles)
            cut_a = rng.randint(len(a) * 2 // 5, len(a) * 7 // 10)
            cut_b = rng.randint(len(b) * 3 // 10, len(b) * 3 // 5)
            title = " ".join(a[:cut_a] + b[cut_b:])
            key = re.sub(r"\W+", "", title.lower())
            if key not in self.seen_titles and len(title.split()) >= 6:
                self.seen_titles.add(key)
                break
        authors = [(rng.choice(self.surnames), rng.choice(GIVEN), rng.choice("ABCDEFGHJKLMNPRST"))
                   for _ in range(rng.choice((1, 2, 3, 3, 4, 5, 6, 8)))]
        first = rng.randint(1, 2500)
        return {
            "title": title,
            "authors": authors,
            "journal": rng.choice(self.journals),
            "year": str(rng.randint(1975, 2020)),
            "volume": str(rng.randint(1, 250)),
            "number": str(rng.randint(1, 12)),
            "pages": (first, first + rng.randint(0, 14)),
            "doi": f"10.{rng.randint(1000, 9999)}/gen.{number}" if rng.random() < 0.4 else "",
        }

    def copy(self, work: dict) -> dict[str, str]:
        """One database's rendering of a work."""
        rng = self.rng
        return {
            "title": self._title(work["title"]),
            "author": self._authors(work["authors"]),
            "year": work["year"] if rng.random() > 0.01 else "",
            "journal": self._journal(work["journal"]),
            "volume": work["volume"] if rng.random() > 0.05 else "",
            "number": work["number"] if rng.random() > 0.3 else "",
            "pages": self._pages(*work["pages"]),
            "doi": self._doi(work["doi"]),
        }

    def _title(self, title: str) -> str:
        rng = self.rng
        if rng.random() < 0.15:  # one typo
            pos = rng.randrange(len(title))
            kind = rng.choice(("drop", "swap", "replace"))
            if kind == "drop":
                title = title[:pos] + title[pos + 1:]
            elif kind == "swap" and pos < len(title) - 1:
                title = title[:pos] + title[pos + 1] + title[pos] + title[pos + 2:]
            else:
                title = title[:pos] + rng.choice("aeiou") + title[pos + 1:]
        roll = rng.random()
        if roll < 0.05:
            title = title.upper()
        elif roll < 0.15:
            title = title.lower()
        elif roll < 0.25:
            title = title.title()
        if rng.random() < 0.2:
            title += "."
        return title

    def _authors(self, authors: list[tuple[str, str, str]]) -> str:
        rng = self.rng
        if rng.random() < 0.03:
            return ""
        style = rng.choice(("bibtex_full", "bibtex_initials", "medline", "initials_first"))
        people = authors[:3] if rng.random() < 0.05 else authors
        if style == "bibtex_full":
            text = " and ".join(f"{s}, {g} {m}." for s, g, m in people)
        elif style == "bibtex_initials":
            text = " and ".join(f"{s}, {g[0]}. {m}." for s, g, m in people)
        elif style == "medline":
            text = ", ".join(f"{s} {g[0]}{m}" for s, g, m in people)
        else:
            text = " and ".join(f"{g[0]}. {m}. {s}" for s, g, m in people)
        if len(people) < len(authors):
            text += " et al."
        return text.upper() if rng.random() < 0.03 else text

    def _journal(self, journal: str) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            return ""
        if roll < 0.35:  # ISO-style abbreviation: drop stopwords, cut words
            words = [w for w in re.split(r"[\s,:]+", journal) if w and w.lower() not in STOP]
            cut = [w[: rng.randint(3, 6)] if len(w) > 6 else w for w in words]
            return " ".join("J" if w.lower() == "journal" else c for w, c in zip(words, cut))
        if roll < 0.45:
            return journal.lower()
        return journal

    def _pages(self, first: int, last: int) -> str:
        rng = self.rng
        if rng.random() < 0.08:
            return ""
        if last == first:
            return str(first)
        if rng.random() < 0.3:  # "1234-45"
            a, b = str(first), str(last)
            common = next((k for k in range(len(a)) if a[: k + 1] != b[: k + 1]), len(a))
            return f"{a}-{b[common:] if len(b) == len(a) and common < len(a) else b}"
        return f"{first}-{last}"

    def _doi(self, doi: str) -> str:
        rng = self.rng
        if not doi or rng.random() < 0.4:
            return ""
        roll = rng.random()
        if roll < 0.2:
            return "https://doi.org/" + doi
        if roll < 0.35:
            return doi.upper()
        return doi


def generate(base: pd.DataFrame, total: int, seed: int) -> pd.DataFrame:
    """About `total` records: the real ones plus varied copies of new works, shuffled."""
    rng = random.Random(seed)
    gen = Generator(base, rng)
    rows = base.to_dict("records")
    number = 0
    while len(rows) < total:
        work = gen.work(number)
        copies = rng.choices(COPIES, COPY_WEIGHTS)[0]
        for _ in range(min(copies, total - len(rows))):
            rows.append({"ID": f"gen-{len(rows)}", "work": f"gen:{number}", **gen.copy(work)})
        number += 1
    rng.shuffle(rows)
    return pd.DataFrame(rows, columns=COLUMNS + ["work"])


def truth_pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
    groups = df.groupby("work")["ID"].agg(list)
    return cluster_pairs([g for g in groups if len(g) > 1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--show-errors", type=int, default=0, metavar="N",
                        help="print up to N false and N missed pairs")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    df = generate(load_base(args.data), args.records, args.seed)
    truth = truth_pairs(df)
    records = df[COLUMNS]
    print(f"generated {len(df):,} records, {len(truth):,} true duplicate pairs "
          f"in {time.perf_counter() - started:.1f} s")

    with Peak() as peak:
        start = time.perf_counter()
        labels = find_duplicates(records)
        seconds = time.perf_counter() - start
    groups = records["ID"].groupby(labels.to_numpy()).agg(list)
    predicted = cluster_pairs([g for g in groups if len(g) > 1])
    result = score(predicted, truth)
    print(f"find_duplicates: {seconds:.1f} s, peak RSS {peak.peak_mb:,.0f} MB "
          f"(+{peak.delta_mb:,.0f} MB during the call)")
    print(f"pairs: TP {result['tp']:,}  FP {result['fp']:,}  FN {result['fn']:,}  "
          f"precision {result['precision']:.4f}  recall {result['recall']:.4f}")
    if args.show_errors:
        by_id = records.set_index("ID")
        for label, pairs in (("false", predicted - truth), ("missed", truth - predicted)):
            for a, b in itertools.islice(sorted(pairs), args.show_errors):
                print(f"--- {label} pair")
                for record_id in (a, b):
                    row = by_id.loc[record_id]
                    print(f"  {record_id}: " + " | ".join(
                        f"{c}={str(row[c])[:70]}" for c in COLUMNS[1:] if str(row[c])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
