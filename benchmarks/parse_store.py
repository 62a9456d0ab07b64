"""Parse + store throughput for PubMed efetch XML: Bio.Entrez.read per batch vs lxml streaming.

Builds N records (default 20,000) by replicating the real efetch records in
tests/data/entrez (plus the hand-written edge cases) with new PMIDs, cut into efetch-sized
batches of 500, then, each method in its own subprocess so peak RSS is its own:

* entrez:  Bio.Entrez.read per batch -> records_from_entrez -> store
* lxml:    iter_pubmed_xml per batch -> store (what `review search` does)
* lxml-file: iter_pubmed_xml over one big file -> store in batches (an imported 300 MB export)
* floor:   lxml iterparse reading the batches with no extraction

    .venv/bin/python benchmarks/parse_store.py [--records 20000] [--batch 500]
"""
from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = (b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January '
          b'2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n')
FOOTER = b"</PubmedArticleSet>\n"


def with_references(fragment: bytes, n_refs: int) -> bytes:
    """Pad an article with a reference list shaped like PubMed's (real heavy records are mostly
    references and affiliations, which the parser must skip over)."""
    refs = b"".join(
        b"<Reference><Citation>Author A, Author B, Author C. A cited study of opioid withdrawal number %d and "
        b"its management in outpatient settings. J Subst Abuse Treat. 2019;12(3):123-134.</Citation>"
        b"<ArticleIdList><ArticleId IdType=\"doi\">10.1016/j.jsat.2019.%05d</ArticleId>"
        b"<ArticleId IdType=\"pubmed\">3%07d</ArticleId></ArticleIdList></Reference>" % (i, i, i)
        for i in range(n_refs))
    tail = b"</PubmedData></PubmedArticle>"
    if not fragment.endswith(tail):
        return fragment
    return fragment[: -len(tail)] + b"<ReferenceList>" + refs + b"</ReferenceList>" + tail


def build(folder: Path, n: int, batch: int, heavy: int = 0) -> tuple[list[Path], Path]:
    from tests.eutils_server import load_corpus, replicate

    corpus = load_corpus(sorted((ROOT / "tests/data/entrez").glob("pubmed*.xml"))
                         + [ROOT / "tests/data/pubmed/edge_cases.xml"])
    frags = list(replicate(corpus, n, 50_000_000).values())
    if heavy:
        frags = [with_references(f, heavy) for f in frags]
    files = []
    for i in range(0, n, batch):
        p = folder / f"batch{i // batch:05d}.xml"
        p.write_bytes(HEADER + b"\n".join(frags[i:i + batch]) + b"\n" + FOOTER)
        files.append(p)
    big = folder / "all.xml"
    big.write_bytes(HEADER + b"\n".join(frags) + b"\n" + FOOTER)
    return files, big


def run_method(method: str, files: list[Path], big: Path, db: Path) -> dict:
    from lxml import etree

    from review.parse.pubmed_xml import iter_pubmed_xml, records_from_entrez
    from review.store import Store

    store = Store.open(db)
    n = 0
    t0 = time.perf_counter()
    if method == "entrez":
        from Bio import Entrez
        for f in files:
            recs = records_from_entrez(Entrez.read(io.BytesIO(f.read_bytes())))
            store.upsert_records(recs)
            n += len(recs)
    elif method == "lxml":
        for f in files:
            recs = list(iter_pubmed_xml(f.read_bytes()))
            store.upsert_records(recs)
            n += len(recs)
    elif method == "lxml-file":
        buf = []
        for r in iter_pubmed_xml(big):
            buf.append(r)
            if len(buf) == 500:
                store.upsert_records(buf)
                n += len(buf)
                buf = []
        store.upsert_records(buf)
        n += len(buf)
    elif method == "floor":
        for f in files:
            for _, el in etree.iterparse(io.BytesIO(f.read_bytes()), tag="PubmedArticle"):
                n += 1
                el.clear()
    seconds = time.perf_counter() - t0
    size = big.stat().st_size if method == "lxml-file" else sum(f.stat().st_size for f in files)
    return {"method": method, "records": n, "seconds": seconds, "records_per_s": n / seconds,
            "mb_per_s": size / 1e6 / seconds, "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's high-water RSS (VmHWM; ru_maxrss would carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--heavy", type=int, default=0, metavar="REFS",
                    help="also pad each article with REFS references (about 60 make a 17 KB record)")
    ap.add_argument("--child", nargs=3, metavar=("METHOD", "DIR", "DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        method, folder, db = args.child
        files = sorted(Path(folder).glob("batch*.xml"))
        print(json.dumps(run_method(method, files, Path(folder) / "all.xml", Path(db))))
        return
    for heavy in sorted({0, args.heavy}):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            files, big = build(folder, args.records, args.batch, heavy)
            total = sum(f.stat().st_size for f in files)
            kind = f"real records padded with {heavy} references each" if heavy else "real records as fetched"
            print(f"\n{args.records} {kind}, {len(files)} batches of {args.batch}: {total / 1e6:.1f} MB "
                  f"({total / args.records / 1e3:.1f} KB/record)")
            print(f"{'method':<10} {'records':>8} {'seconds':>8} {'rec/s':>8} {'MB/s':>7} {'peak RSS MB':>11}")
            for method in ("entrez", "lxml", "lxml-file", "floor"):
                db = folder / f"{method}.sqlite"
                out = subprocess.run([sys.executable, __file__, "--child", method, str(folder), str(db)],
                                     check=True, capture_output=True, text=True).stdout
                r = json.loads(out)
                print(f"{r['method']:<10} {r['records']:>8} {r['seconds']:>8.2f} {r['records_per_s']:>8.0f} "
                      f"{r['mb_per_s']:>7.1f} {r['peak_rss_mb']:>11.0f}")


if __name__ == "__main__":
    main()
