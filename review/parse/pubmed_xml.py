"""PubMed efetch XML (PubmedArticleSet, DTD 2025) -> Record.

Two readers that must agree field for field:

* ``iter_pubmed_xml`` streams with ``lxml.etree.iterparse`` (bounded memory, ~5x faster
  than ``Bio.Entrez.read``); it is what search, replay and import use.
* ``records_from_entrez`` converts what ``Bio.Entrez.read`` returns; it is the
  reference the tests compare the streaming reader against on every real fixture.

Text is kept as Bio.Entrez gives it: inline markup (``<i>``, ``<sup>``...) stays in the
string, entities are decoded. Normalisation for matching happens later (dedupe).
"""
from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from lxml import etree

from review.errors import InputError
from review.models import AbstractSection, Author, MeshHeading, Record

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_ARTICLE_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation")


# ---------------------------------------------------------------- shared helpers (pure)

def year_of(pubdate: Mapping[str, str]) -> int | None:
    """Year from a PubDate: <Year>, else the first year in <MedlineDate> ('1998 Dec-1999 Jan')."""
    if pubdate.get("Year", "").strip().isdigit():
        return int(pubdate["Year"])
    m = _YEAR.search(pubdate.get("MedlineDate", ""))
    return int(m.group(1)) if m else None


def _month_number(month: str) -> int | None:
    month = month.strip().lower()
    if month.isdigit():
        return int(month) if 1 <= int(month) <= 12 else None
    return _MONTHS.get(month[:3])


def date_of(parts: Mapping[str, str]) -> str | None:
    """ISO-style date from Year/Month/Day parts; Season or MedlineDate kept as written."""
    year = parts.get("Year", "").strip()
    if not year:
        return parts.get("MedlineDate") or None
    month = _month_number(parts.get("Month", "")) if parts.get("Month") else None
    if month is None:
        season = parts.get("Season")
        return f"{year} {season}" if season else year
    day = parts.get("Day", "").strip()
    if day.isdigit():
        return f"{year}-{month:02d}-{int(day):02d}"
    return f"{year}-{month:02d}"


def pages_of(medline_pgn: str | None, start: str | None, end: str | None) -> str | None:
    """Pages as PubMed shows them: MedlinePgn, else StartPage-EndPage."""
    if medline_pgn:
        return medline_pgn
    if start and end and end != start:
        return f"{start}-{end}"
    return start or None


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


# ---------------------------------------------------------------- streaming reader (lxml)

def _raw_text(el: etree._Element) -> str:
    """Element text with inline markup kept the way Bio.Entrez keeps it."""
    parts = [el.text or ""]
    for child in el:
        if not isinstance(child.tag, str):  # comments, processing instructions
            parts.append(child.tail or "")
            continue
        qn = etree.QName(child)
        attrs = dict(child.attrib)
        if qn.namespace and etree.QName(el).namespace != qn.namespace:
            attrs = {"xmlns": qn.namespace, **attrs}
        attr_s = "".join(f' {k}="{v}"' for k, v in attrs.items())
        parts.append(f"<{qn.localname}{attr_s}>{_raw_text(child)}</{qn.localname}>")
        parts.append(child.tail or "")
    return "".join(parts)


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    if len(el) == 0:  # fast path: no inline markup
        t = el.text
        return t.strip() or None if t else None
    return _clean(_raw_text(el))


def _parts(el: etree._Element | None) -> dict[str, str]:
    if el is None:
        return {}
    return {c.tag: (c.text or "") for c in el if isinstance(c.tag, str)}


def _authors(author_list: etree._Element | None) -> tuple[Author, ...]:
    if author_list is None:
        return ()
    out = []
    for a in author_list.iterfind("Author"):
        if a.get("ValidYN") == "N":  # NLM marks misspelt or wrongly listed names invalid
            continue
        out.append(Author(
            family=_text(a.find("LastName")),
            given=_text(a.find("ForeName")),
            initials=_text(a.find("Initials")),
            collective=_text(a.find("CollectiveName")),
        ))
    return tuple(out)


def _abstract(abstract: etree._Element | None) -> tuple[AbstractSection, ...]:
    if abstract is None:
        return ()
    out = []
    for t in abstract.iterfind("AbstractText"):
        text = _text(t)
        if text:
            out.append(AbstractSection(text=text, label=t.get("Label"), category=t.get("NlmCategory")))
    return tuple(out)


def _mesh(mesh_list: etree._Element | None) -> tuple[MeshHeading, ...]:
    if mesh_list is None:
        return ()
    out = []
    for mh in mesh_list.iterfind("MeshHeading"):
        d = mh.find("DescriptorName")
        if d is None:
            continue
        out.append(MeshHeading(
            descriptor=_text(d) or "",
            major=d.get("MajorTopicYN") == "Y",
            ui=d.get("UI"),
            qualifiers=tuple((_text(q) or "", q.get("MajorTopicYN") == "Y")
                             for q in mh.iterfind("QualifierName")),
        ))
    return tuple(out)


def _keywords(parent: etree._Element) -> tuple[str, ...]:
    return tuple(k for k in (_text(e) for e in parent.iterfind("KeywordList/Keyword")) if k)


def _ids(id_list: etree._Element | None) -> dict[str, str]:
    ids: dict[str, str] = {}
    if id_list is not None:
        for a in id_list.iterfind("ArticleId"):
            value = _clean(a.text)
            if value:
                ids.setdefault(a.get("IdType", ""), value)
    return ids


def _entry_date(history: etree._Element | None) -> str | None:
    if history is None:
        return None
    for d in history.iterfind("PubMedPubDate"):
        if d.get("PubStatus") == "entrez":
            return date_of(_parts(d))
    return None


def _elocation_doi(article: etree._Element) -> str | None:
    for e in article.iterfind("ELocationID"):
        if e.get("EIdType") == "doi" and e.get("ValidYN", "Y") == "Y":
            return _clean(e.text)
    return None


def _article_record(el: etree._Element, source: str) -> Record:
    mc = el.find("MedlineCitation")
    art = mc.find("Article")
    journal = art.find("Journal")
    ji = journal.find("JournalIssue") if journal is not None else None
    pubdate = _parts(ji.find("PubDate")) if ji is not None else {}
    pdata = el.find("PubmedData")
    ids = _ids(pdata.find("ArticleIdList") if pdata is not None else None)
    pmid = _clean(mc.findtext("PMID"))
    pag = art.find("Pagination")
    pages = None
    if pag is not None:
        pages = pages_of(_clean(pag.findtext("MedlinePgn")), _clean(pag.findtext("StartPage")),
                         _clean(pag.findtext("EndPage")))
    return Record(
        source=source,
        source_id=pmid or "",
        pmid=pmid,
        doi=ids.get("doi") or _elocation_doi(art),
        pmcid=ids.get("pmc"),
        title=_text(art.find("ArticleTitle")),
        vernacular_title=_text(art.find("VernacularTitle")),
        abstract=_abstract(art.find("Abstract")),
        authors=_authors(art.find("AuthorList")),
        journal=_text(journal.find("Title")) if journal is not None else None,
        journal_iso=(_text(journal.find("ISOAbbreviation")) if journal is not None else None)
        or _clean(mc.findtext("MedlineJournalInfo/MedlineTA")),
        year=year_of(pubdate),
        volume=_clean(ji.findtext("Volume")) if ji is not None else None,
        issue=_clean(ji.findtext("Issue")) if ji is not None else None,
        pages=pages,
        language=tuple(t for t in (_clean(x.text) for x in art.iterfind("Language")) if t),
        publication_types=tuple(t for t in (_text(x) for x in art.iterfind(
            "PublicationTypeList/PublicationType")) if t),
        mesh=_mesh(mc.find("MeshHeadingList")),
        keywords=_keywords(mc),
        entry_date=_entry_date(pdata.find("History") if pdata is not None else None),
        pub_date=date_of(pubdate),
        kind="journal-article",
    )


def _book_record(el: etree._Element, source: str) -> Record:
    doc = el.find("BookDocument")
    book = doc.find("Book")
    pubdate = _parts(book.find("PubDate")) if book is not None else {}
    bdata = el.find("PubmedBookData")
    ids = _ids(doc.find("ArticleIdList"))
    ids.update({k: v for k, v in _ids(bdata.find("ArticleIdList") if bdata is not None else None).items()
                if k not in ids})
    pmid = _clean(doc.findtext("PMID"))
    chapter = _text(doc.find("ArticleTitle"))
    book_title = _text(book.find("BookTitle")) if book is not None else None
    author_list = None
    for al in doc.iterfind("AuthorList"):
        if al.get("Type", "authors") == "authors":
            author_list = al
            break
    if author_list is None and book is not None:
        for al in book.iterfind("AuthorList"):
            if al.get("Type", "authors") == "authors":
                author_list = al
                break
    return Record(
        source=source,
        source_id=pmid or "",
        pmid=pmid,
        doi=ids.get("doi"),
        pmcid=ids.get("pmc"),
        title=chapter or book_title,
        abstract=_abstract(doc.find("Abstract")),
        authors=_authors(author_list),
        journal=book_title if chapter else None,
        year=year_of(pubdate),
        volume=_clean(book.findtext("Volume")) if book is not None else None,
        language=tuple(t for t in (_clean(x.text) for x in doc.iterfind("Language")) if t),
        publication_types=tuple(t for t in (_text(x) for x in doc.iterfind("PublicationType")) if t),
        keywords=_keywords(doc),
        entry_date=_entry_date(bdata.find("History") if bdata is not None else None),
        pub_date=date_of(pubdate),
        kind="book-article" if chapter else "book",
    )


def _deleted(el: etree._Element, source: str) -> Iterator[Record]:
    for p in el.iterfind("PMID"):
        pmid = _clean(p.text)
        if pmid:
            yield Record(source=source, source_id=pmid, pmid=pmid, deleted=True)


def iter_pubmed_xml(source: bytes | str | os.PathLike | IO[bytes], source_name: str = "pubmed",
                    *, label: str | None = None) -> Iterator[Record]:
    """Stream Records out of a PubmedArticleSet; DeleteCitation PMIDs come as deleted Records.

    Raises InputError naming the file (or ``label``) and line when the XML is malformed,
    e.g. a body truncated in transit.
    """
    if isinstance(source, (bytes, bytearray)):
        stream: Any = io.BytesIO(source)
        name = label or "<response>"
    elif isinstance(source, (str, os.PathLike)):
        stream = os.fspath(source)
        name = label or os.fspath(source)
    else:
        stream = source
        name = label or getattr(source, "name", "<stream>")
    ctx = etree.iterparse(stream, events=("end",), tag=_ARTICLE_TAGS, resolve_entities=False,
                          huge_tree=True, no_network=True, load_dtd=False)
    seen_root = False
    try:
        for _, el in ctx:
            seen_root = True
            tag = el.tag
            if tag == "PubmedArticle":
                yield _article_record(el, source_name)
            elif tag == "PubmedBookArticle":
                yield _book_record(el, source_name)
            elif el.getparent() is not None and el.getparent().tag == "PubmedArticleSet":
                yield from _deleted(el, source_name)
            # Free what was parsed so memory stays flat on large files.
            el.clear(keep_tail=False)
            parent = el.getparent()
            if parent is not None and tag != "DeleteCitation":
                while el.getprevious() is not None:
                    del parent[0]
        root = getattr(ctx, "root", None)
        if root is not None and root.tag not in ("PubmedArticleSet", "PubmedBookArticleSet"):
            raise InputError(f"{name}: not a PubMed XML file (root element <{root.tag}>)")
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", None) or (exc.position[0] if getattr(exc, "position", None) else "?")
        raise InputError(
            f"{name}: malformed PubMed XML at line {line}: {exc.msg if hasattr(exc, 'msg') else exc}"
            + ("" if seen_root else " (no article was read)")
        ) from exc


# ---------------------------------------------------------------- reference reader (Bio.Entrez)

def _s(value: Any) -> str | None:
    return _clean(str(value)) if value is not None else None


def _e_authors(author_list: Iterable[Any] | None) -> tuple[Author, ...]:
    return tuple(
        Author(family=_s(a.get("LastName")), given=_s(a.get("ForeName")),
               initials=_s(a.get("Initials")), collective=_s(a.get("CollectiveName")))
        for a in (author_list or ()) if a.attributes.get("ValidYN") != "N"
    )


def _e_abstract(abstract: Mapping[str, Any] | None) -> tuple[AbstractSection, ...]:
    if not abstract:
        return ()
    out = []
    for t in abstract.get("AbstractText", ()):
        text = _s(t)
        if text:
            attrs = getattr(t, "attributes", {})
            out.append(AbstractSection(text=text, label=attrs.get("Label"), category=attrs.get("NlmCategory")))
    return tuple(out)


def _e_ids(id_list: Iterable[Any] | None) -> dict[str, str]:
    ids: dict[str, str] = {}
    for a in id_list or ():
        value = _s(a)
        if value:
            ids.setdefault(a.attributes.get("IdType", ""), value)
    return ids


def _e_entry_date(history: Iterable[Any] | None) -> str | None:
    for d in history or ():
        if d.attributes.get("PubStatus") == "entrez":
            return date_of({k: str(v) for k, v in d.items()})
    return None


def _e_keywords(keyword_lists: Iterable[Any] | None) -> tuple[str, ...]:
    return tuple(k for kl in (keyword_lists or ()) for k in (_s(x) for x in kl) if k)


def _e_article(a: Mapping[str, Any], source: str) -> Record:
    mc, pdata = a["MedlineCitation"], a.get("PubmedData", {})
    art = mc["Article"]
    journal = art.get("Journal", {})
    ji = journal.get("JournalIssue", {})
    pubdate = {k: str(v) for k, v in ji.get("PubDate", {}).items()}
    ids = _e_ids(pdata.get("ArticleIdList"))
    pmid = _s(mc.get("PMID"))
    doi = ids.get("doi")
    if not doi:
        for e in art.get("ELocationID", ()):
            if e.attributes.get("EIdType") == "doi" and e.attributes.get("ValidYN", "Y") == "Y":
                doi = _s(e)
                break
    pag = art.get("Pagination") or {}
    return Record(
        source=source, source_id=pmid or "", pmid=pmid, doi=doi, pmcid=ids.get("pmc"),
        title=_s(art.get("ArticleTitle")),
        vernacular_title=_s(art.get("VernacularTitle")),
        abstract=_e_abstract(art.get("Abstract")),
        authors=_e_authors(art.get("AuthorList")),
        journal=_s(journal.get("Title")),
        journal_iso=_s(journal.get("ISOAbbreviation")) or _s(mc.get("MedlineJournalInfo", {}).get("MedlineTA")),
        year=year_of(pubdate),
        volume=_s(ji.get("Volume")), issue=_s(ji.get("Issue")),
        pages=pages_of(_s(pag.get("MedlinePgn")), _s(pag.get("StartPage")), _s(pag.get("EndPage"))),
        language=tuple(t for t in (_s(x) for x in art.get("Language", ())) if t),
        publication_types=tuple(t for t in (_s(x) for x in art.get("PublicationTypeList", ())) if t),
        mesh=tuple(
            MeshHeading(
                descriptor=_s(mh["DescriptorName"]) or "",
                major=mh["DescriptorName"].attributes.get("MajorTopicYN") == "Y",
                ui=mh["DescriptorName"].attributes.get("UI"),
                qualifiers=tuple((_s(q) or "", q.attributes.get("MajorTopicYN") == "Y")
                                 for q in mh.get("QualifierName", ())),
            )
            for mh in mc.get("MeshHeadingList", ()) if "DescriptorName" in mh
        ),
        keywords=_e_keywords(mc.get("KeywordList")),
        entry_date=_e_entry_date(pdata.get("History")),
        pub_date=date_of(pubdate),
        kind="journal-article",
    )


def _e_book(a: Mapping[str, Any], source: str) -> Record:
    doc, bdata = a["BookDocument"], a.get("PubmedBookData", {})
    book = doc.get("Book", {})
    pubdate = {k: str(v) for k, v in book.get("PubDate", {}).items()}
    ids = _e_ids(doc.get("ArticleIdList"))
    ids.update({k: v for k, v in _e_ids(bdata.get("ArticleIdList")).items() if k not in ids})
    pmid = _s(doc.get("PMID"))
    chapter = _s(doc.get("ArticleTitle"))
    book_title = _s(book.get("BookTitle"))
    author_list = next((al for al in doc.get("AuthorList", ())
                        if al.attributes.get("Type", "authors") == "authors"), None)
    if author_list is None:
        author_list = next((al for al in book.get("AuthorList", ())
                            if al.attributes.get("Type", "authors") == "authors"), None)
    return Record(
        source=source, source_id=pmid or "", pmid=pmid, doi=ids.get("doi"), pmcid=ids.get("pmc"),
        title=chapter or book_title,
        abstract=_e_abstract(doc.get("Abstract")),
        authors=_e_authors(author_list),
        journal=book_title if chapter else None,
        year=year_of(pubdate),
        volume=_s(book.get("Volume")),
        language=tuple(t for t in (_s(x) for x in doc.get("Language", ())) if t),
        publication_types=tuple(t for t in (_s(x) for x in doc.get("PublicationType", ())) if t),
        keywords=_e_keywords(doc.get("KeywordList")),
        entry_date=_e_entry_date(bdata.get("History")),
        pub_date=date_of(pubdate),
        kind="book-article" if chapter else "book",
    )


def records_from_entrez(parsed: Mapping[str, Any], source: str = "pubmed") -> list[Record]:
    """Convert ``Bio.Entrez.read`` output for a PubmedArticleSet into Records (document order
    within each kind: articles, then books, then deletions)."""
    out = [_e_article(a, source) for a in parsed.get("PubmedArticle", ())]
    out += [_e_book(a, source) for a in parsed.get("PubmedBookArticle", ())]
    for pmid in parsed.get("DeleteCitation", ()) or ():
        p = _s(pmid)
        if p:
            out.append(Record(source=source, source_id=p, pmid=p, deleted=True))
    return out
