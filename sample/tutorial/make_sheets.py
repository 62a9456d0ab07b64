"""How the tutorial's filled example sheets were made (run once; the files are shipped as written).

Run from the project folder after tutorial steps 1-4 (the store outputs/tutorial.sqlite):
    .venv/bin/python sample/tutorial/make_sheets.py
A stand-in for people: alice's title/abstract and full-text decisions follow simple written
criteria on the title, abstract and the classifier's design; bob screened fourteen records in
Rayyan. The point is a tutorial that runs, not a real screening of the sample.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from review.store import Store

HERE = Path(__file__).parent
ABOUT = re.compile(r"withdraw|dependen|use disorder|opioid|buprenorphine|addiction|abstinence", re.I)
NOT_HUMAN = {"animal", "in_vitro"}
NOT_PRIMARY = {"narrative_review", "systematic_review", "meta_analysis", "editorial_commentary",
               "trial_registration", "other"}
SHEET = ["record_id", "title", "pubmed", "doi", "decision", "reason", "notes"]


def url(pmid):
    return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" if pmid else ""


def main() -> None:
    with Store.open_existing("outputs/tutorial.sqlite") as store:
        designs = store.designs()
        records = list(store.canonical_records())
    ta, ft = [], []
    for rid, r in records:
        design = designs[rid].design
        text = f"{r.title} {r.abstract_text}"
        if design in NOT_HUMAN:
            decision, reason = "exclude", "not human"
        elif ABOUT.search(text):
            decision, reason = "include", ""
        else:
            decision, reason = "exclude", "no withdrawal/OUD outcome"
        ta.append({"record_id": rid, "title": r.title, "pubmed": url(r.pmid), "doi": r.doi or "",
                   "decision": decision, "reason": reason, "notes": ""})
        if decision == "include":
            if design in NOT_PRIMARY:
                d2, why = "exclude", "wrong publication type"
            elif not ABOUT.search(r.title or ""):
                d2, why = "exclude", "no withdrawal/OUD outcome"
            else:
                d2, why = "include", ""
            ft.append({"record_id": rid, "title": r.title, "pubmed": url(r.pmid), "doi": r.doi or "",
                       "decision": d2, "reason": why, "notes": ""})
    for name, rows in (("alice_title_abstract.csv", ta), ("alice_full_text.csv", ft)):
        with open(HERE / name, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=SHEET)
            w.writeheader()
            w.writerows(rows)
    # bob, in Rayyan, on fourteen records; he disagrees with alice on two of them
    pick = [r for r in ta if r["record_id"] in (1, 2, 4, 5, 10, 11, 14, 20, 21, 23, 36, 38, 44, 53)]
    flip = {r["record_id"]: "Included" for r in [r for r in pick if r["decision"] == "exclude"][:2]}
    with open(HERE / "bob_rayyan.csv", "w", newline="", encoding="utf-8") as f:
        cols = ["key", "title", "authors", "journal", "issn", "volume", "issue", "pages", "year", "publisher",
                "url", "abstract", "notes", "doi", "keywords", "pubmed_id", "pmc_id"]
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        by_id = dict(records)
        for n, row in enumerate(pick, start=1):
            r = by_id[row["record_id"]]
            said = flip.get(row["record_id"], "Included" if row["decision"] == "include" else "Excluded")
            notes = f'RAYYAN-INCLUSION: {{"Bob"=>"{said}"}}'
            if said == "Excluded" and row["reason"]:
                notes += f" | RAYYAN-EXCLUSION-REASONS: {row['reason']}"
            w.writerow({"key": 5000 + n, "title": r.title, "authors": " and ".join(a.display for a in r.authors),
                        "journal": r.journal or "", "year": r.year or "", "abstract": r.abstract_text[:300],
                        "notes": notes, "doi": r.doi or "", "pubmed_id": r.pmid or ""})


if __name__ == "__main__":
    main()
