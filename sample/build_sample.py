"""Build the bundled offline sample from the labelled kratom studies (run once; output committed).

Input: ``records.jsonl`` of real kratom publications assembled from public article pages
(see sample/README.md). Output:

* ``searches/<run-id>/``: an archived PubMed search run (esearch + efetch, PubMed XML per the
  2025 DTD) holding the records that have a PMID. Only the fields the pages showed are
  filled: there are no MeSH terms or publication types. The manifest says it was assembled.
* ``imports/article_pages/article_pages.ris``: records without a PMID (journal and aggregator pages).
* ``imports/clinicaltrials/trial_registrations.csv``: trial-registry records (ClinicalTrials.gov).

Design labels are deliberately left out: the toolkit must classify the sample itself.

    python sample/build_sample.py ../shared/data/kratom_sample/records.jsonl
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import sys
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
RUN_ID = "20261122T000000Z-kratom_broad-sample"
WHEN = "2026-11-22T00:00:00Z"
DOCTYPE = ('<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January '
           '2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n')
REGISTRY = re.compile(r"Clinical trial registry record \((NCT\d+)")


_INITIAL = re.compile(r"(?:[A-Z]\.?-?){1,3}")


def family_first(names: list[str]) -> bool:
    """Pages list a whole author list one way; a trailing initial ('Müller Christian P.') means family first."""
    return any(len(n.split()) > 2 and "," not in n and _INITIAL.fullmatch(n.split()[-1]) for n in names)


def split_name(name: str, family_first_order: bool = False) -> tuple[str, str, str]:
    """(family, given, initials) from the forms the pages used: 'Family, Given', 'Given Family',
    'Family Given I.' (family first, as the page's whole list shows)."""
    name = " ".join(name.split())
    parts = name.split()
    if "," in name:
        family, given = (p.strip() for p in name.split(",", 1))
    elif family_first_order and len(parts) > 1:
        family, given = parts[0], " ".join(parts[1:])
    else:
        family, given = parts[-1], " ".join(parts[:-1])
    initials = "".join(w[0] for w in re.split(r"[\s.\-]+", given) if w and w[0].isalpha()).upper()
    return family, given, initials


def article_xml(r: dict) -> str:
    order = family_first(r["authors"])
    authors = "".join(
        "<Author ValidYN=\"Y\"><LastName>{}</LastName><ForeName>{}</ForeName><Initials>{}</Initials></Author>"
        .format(*(escape(x) for x in split_name(a, order))) for a in r["authors"])
    abstract = f"<Abstract><AbstractText>{escape(r['abstract'])}</AbstractText></Abstract>" if r["abstract"] else ""
    doi_loc = f'<ELocationID EIdType="doi" ValidYN="Y">{escape(r["doi"])}</ELocationID>' if r["doi"] else ""
    ids = f'<ArticleId IdType="pubmed">{r["pmid"]}</ArticleId>'
    if r["doi"]:
        ids += f'<ArticleId IdType="doi">{escape(r["doi"])}</ArticleId>'
    if r["pmcid"]:
        ids += f'<ArticleId IdType="pmc">{escape(r["pmcid"])}</ArticleId>'
    year = f"<Year>{r['year']}</Year>" if r["year"] else ""
    author_list = f'<AuthorList CompleteYN="N">{authors}</AuthorList>' if authors else ""
    return (
        f'<PubmedArticle><MedlineCitation Status="PubMed-not-MEDLINE" Owner="NLM"><PMID Version="1">{r["pmid"]}</PMID>'
        f'<Article PubModel="Print"><Journal><JournalIssue CitedMedium="Internet"><PubDate>{year}</PubDate>'
        f'</JournalIssue><Title>{escape(r["journal"] or "")}</Title></Journal>'
        f'<ArticleTitle>{escape(r["title"] or "")}</ArticleTitle>{doi_loc}{abstract}'
        f'{author_list}'
        f'<Language>eng</Language></Article></MedlineCitation>'
        f'<PubmedData><PublicationStatus>ppublish</PublicationStatus><ArticleIdList>{ids}</ArticleIdList>'
        f'</PubmedData></PubmedArticle>\n'
    )


def esearch_xml(pmids: list[str], query: str) -> str:
    ids = "".join(f"<Id>{p}</Id>\n" for p in pmids)
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN"'
        ' "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
        f"<eSearchResult><Count>{len(pmids)}</Count><RetMax>{len(pmids)}</RetMax><RetStart>0</RetStart>"
        "<QueryKey>1</QueryKey><WebEnv>MCID_sample0000000000000000</WebEnv>"
        f"<IdList>\n{ids}</IdList><TranslationSet/><QueryTranslation>{escape(query)}</QueryTranslation>"
        "</eSearchResult>\n"
    )


def write_gz(path: Path, body: bytes) -> dict:
    with open(path, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
        gz.write(body)
    return {"file": path.name, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def ris_record(r: dict) -> str:
    lines = ["TY  - JOUR"]
    order = family_first(r["authors"])
    for a in r["authors"]:
        family, given, _ = split_name(a, order)
        lines.append(f"AU  - {family}, {given}" if given else f"AU  - {family}")
    lines += [f"TI  - {r['title']}"]
    for tag, key in (("PY", "year"), ("JO", "journal"), ("DO", "doi"), ("AB", "abstract"), ("UR", "url")):
        if r.get(key):
            lines.append(f"{tag}  - {r[key]}")
    if r.get("article_type_shown"):
        lines.append(f"M3  - {r['article_type_shown']}")
    lines.append("ER  - ")
    return "\n".join(lines) + "\n\n"


def main(src: Path) -> None:
    records = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    registry = [r for r in records if REGISTRY.match(r.get("article_type_shown") or "")]
    pubmed = [r for r in records if r["pmid"] and r not in registry]
    pages = [r for r in records if not r["pmid"] and r not in registry]

    from review.queries import load_strategy  # the broad strategy is what this sample stands in for
    strategy = load_strategy(HERE.parent / "queries" / "kratom_broad.yaml")
    run = HERE / "searches" / RUN_ID
    run.mkdir(parents=True, exist_ok=True)
    pmids = [r["pmid"] for r in sorted(pubmed, key=lambda r: -int(r["pmid"]))]  # PubMed lists newest first
    by_pmid = {r["pmid"]: r for r in pubmed}
    efetch = (DOCTYPE + "<PubmedArticleSet>\n" + "".join(article_xml(by_pmid[p]) for p in pmids)
              + "</PubmedArticleSet>\n").encode("utf-8")
    responses = [
        {**write_gz(run / "0001-esearch.xml.gz", esearch_xml(pmids, strategy.query).encode("utf-8")),
         "util": "esearch", "params": {"db": "pubmed", "term": strategy.query, "usehistory": "y", "retmax": "9999"},
         "attempts": 1, "received": WHEN},
        {**write_gz(run / "0002-efetch.xml.gz", efetch), "util": "efetch",
         "params": {"db": "pubmed", "WebEnv": "MCID_sample0000000000000000", "query_key": "1", "retstart": "0",
                    "retmax": str(len(pmids)), "retmode": "xml"},
         "attempts": 1, "received": WHEN},
    ]
    manifest = {
        "format": 1, "run_id": RUN_ID, "strategy": strategy.name, "database": "pubmed", "query": strategy.query,
        "description": strategy.description,
        "limits": {"mindate": None, "maxdate": None, "datetype": "pdat", "limits": []},
        "started_at": WHEN, "finished_at": WHEN, "status": "complete", "batch_size": 500,
        "count": len(pmids), "translation": strategy.query, "ids": pmids, "n_new": len(pmids),
        "dropped": [], "missing": [], "deleted": [],
        "provenance": ("ASSEMBLED, not a live PubMed response: the records with a PMID among real kratom studies "
                       "read from public article pages (PubMed, PMC, journal sites). Only fields those pages "
                       "showed are present; no MeSH terms or publication types. Built by sample/build_sample.py."),
        "responses": responses,
    }
    (run / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")

    imports = HERE / "imports"
    (imports / "article_pages").mkdir(parents=True, exist_ok=True)
    (imports / "clinicaltrials").mkdir(parents=True, exist_ok=True)
    (imports / "article_pages" / "article_pages.ris").write_text("".join(ris_record(r) for r in pages), encoding="utf-8")
    with open(imports / "clinicaltrials" / "trial_registrations.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ID", "title", "author", "year", "journal", "doi", "abstract", "url"])
        for r in registry:
            w.writerow([REGISTRY.match(r["article_type_shown"]).group(1), r["title"], " and ".join(r["authors"]),
                        r["year"] or "", "ClinicalTrials.gov", r["doi"] or "", r["abstract"] or "", r["url"]])
    print(f"{len(pmids)} PubMed records, {len(pages)} article-page records, {len(registry)} registrations")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parent.parent / "shared/data/kratom_sample/records.jsonl"))
