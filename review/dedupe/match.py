"""The deduplication engine: block, score (vectorised), apply the rules, cluster.

Input is the frame of normalised keys from `normalise.normalise_table`; rows are
addressed by position. Nothing here reads or writes files.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from rapidfuzz.process import cpdist

from review.dedupe import rules as R
from review.dedupe.normalise import journals_compatible
from review.dedupe.related import RelatedLink, link_notices

# Blocks larger than this are skipped for that key (other keys still pair their members),
# which keeps the number of pairs linear in the number of records.
BLOCK_CAP = 200
WINDOW = 20  # neighbours (in title order) of each record in a block larger than BLOCK_CAP
AUTHOR_PREFIX = 6  # compare at most this many leading authors (lists get truncated)
TITLE_STOPWORDS = frozenset(
    "a an the of in on for and or to with by from at as is are be its their".split()
)
PLAUSIBLE_TITLE = 0.75
MARKERS = ("erratum", "retraction", "comment", "protocol", "conference")


@dataclass(frozen=True)
class EngineResult:
    """Cluster label per row, merged edges with their rule, and uncertain pairs."""

    labels: np.ndarray  # int cluster label per row, 0..k-1 in order of first row
    edges: pd.DataFrame  # one row per merged pair: i, j, rule and the features
    uncertain: pd.DataFrame  # one row per pair for a person: i, j, reason and the features
    n_candidates: int
    related: tuple[RelatedLink, ...] = ()  # corrections, retractions, comments -> the article named


# --- blocking -------------------------------------------------------------------------


def _content_words(title: str) -> list[str]:
    return [w for w in title.split() if w not in TITLE_STOPWORDS]


def blocking_keys(keys: pd.DataFrame) -> dict[str, list[str]]:
    """Blocking key per record for each blocking scheme ('' = not blocked on it)."""
    titles = keys["title"].tolist()
    words = [_content_words(t) for t in titles]
    years = ["" if pd.isna(y) else str(y) for y in keys["year"]]
    first_surname = [a[0].surname if a else "" for a in keys["authors"]]
    volume, first_page = keys["volume"].tolist(), keys["first_page"].tolist()
    return {
        "doi": keys["doi"].tolist(),
        "pmid": keys["pmid"].tolist(),
        "title_head": [" ".join(w[:4]) if len(w) >= 2 else "" for w in words],
        "title_tail": [" ".join(w[-4:]) if len(w) >= 4 else "" for w in words],
        "title_chars": [t.replace(" ", "")[:30] if len(t) >= 20 else "" for t in titles],
        "title_longest": [" ".join(sorted(sorted(w, key=len)[-3:])) if len(w) >= 5 else ""
                          for w in words],
        "author_year": [f"{a}|{y}" if a and y else "" for a, y in zip(first_surname, years)],
        "volume_page": [f"{v}|{p}" if v and p else "" for v, p in zip(volume, first_page)],
        "year_page": [f"{y}|{p}" if y and p else "" for y, p in zip(years, first_page)],
    }


def pairs_in_blocks(values: list[str], cap: int = BLOCK_CAP, rank: np.ndarray | None = None,
                    window: int = WINDOW) -> np.ndarray:
    """(i, j), i < j, of records sharing a non-empty key: every pair of a block of 2..cap records;
    in a larger block each record with its `window` neighbours in `rank` order (the title's).

    Dropping large blocks would lose true pairs exactly as a set grows (common surnames, years,
    title openings); neighbours in title order keep them at a cost linear in the block size.
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    empty = np.flatnonzero(uniques == "")
    if len(empty):
        codes = np.where(codes == empty[0], -1, codes)
    order = np.argsort(codes, kind="stable") if rank is None else np.lexsort((rank, codes))
    sorted_codes = codes[order]
    keep = sorted_codes >= 0
    order, sorted_codes = order[keep], sorted_codes[keep]
    if len(order) < 2:
        return np.empty((0, 2), dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    ends = np.repeat(starts + sizes, sizes)
    size_of = np.repeat(sizes, sizes)
    position = np.arange(len(order))
    count = np.where(size_of <= cap, ends - position - 1,
                     np.minimum(ends - position - 1, window if rank is not None else 0))
    total = int(count.sum())
    if total == 0:
        return np.empty((0, 2), dtype=np.int64)
    left_pos = np.repeat(position, count)
    offset = np.arange(total) - np.repeat(np.cumsum(count) - count, count) + 1
    left, right = order[left_pos], order[left_pos + offset]
    return np.stack([np.minimum(left, right), np.maximum(left, right)], axis=1).astype(np.int64)


def candidate_pairs(keys: pd.DataFrame) -> np.ndarray:
    """Distinct candidate pairs from all blocking schemes, sorted."""
    n = len(keys)
    rank = pd.factorize(keys["title"].to_numpy(dtype=object), sort=True)[0]
    blocks = [pairs_in_blocks(values, rank=rank) for values in blocking_keys(keys).values()]
    pairs = np.concatenate(blocks) if blocks else np.empty((0, 2), dtype=np.int64)
    if not len(pairs):
        return pairs
    codes = np.sort(pairs[:, 0] * n + pairs[:, 1])
    codes = codes[np.r_[True, codes[1:] != codes[:-1]]]
    return np.stack([codes // n, codes % n], axis=1)


# --- scoring --------------------------------------------------------------------------


def _similarity(col: np.ndarray, i: np.ndarray, j: np.ndarray, scorer=fuzz.ratio) -> np.ndarray:
    """Element-wise similarity of col[i] and col[j] in [0, 1]; NaN where either is empty."""
    if not len(i):
        return np.empty(0)
    scores = cpdist(col[i], col[j], scorer=scorer, workers=-1, dtype=np.float32)
    scores = scores.astype(float) / 100.0
    empty = col == ""
    scores[empty[i] | empty[j]] = np.nan
    return scores


def _agreement(col: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """1.0 where col[i] == col[j], 0.0 where different, NaN where either is ''."""
    a, b = col[i], col[j]
    out = (a == b).astype(float)
    out[(a == "") | (b == "")] = np.nan
    return out


@dataclass(frozen=True)
class _Prepared:
    """Per-record columns the scorer looks up by position."""

    title: np.ndarray
    title_len: np.ndarray  # int32, characters of the normalised title
    title_words: np.ndarray  # rules.TitleWords per record
    title_parts: np.ndarray
    has_parts: np.ndarray
    author_prefix: list[np.ndarray]  # index k-1: surnames of the first k authors
    n_authors: np.ndarray
    first_surname: np.ndarray
    journal_code: np.ndarray  # factorised raw journal name, -1 when missing
    journal_names: np.ndarray
    year: np.ndarray  # float, NaN when missing
    volume: np.ndarray
    first_page: np.ndarray
    page_first: np.ndarray  # first and last page as numbers, NaN when not numeric
    page_last: np.ndarray
    multi_segment: np.ndarray
    page_starts: np.ndarray
    article_number: np.ndarray
    doi: np.ndarray
    pmid: np.ndarray
    cochrane_issue: np.ndarray
    issue: np.ndarray
    abstract: np.ndarray
    markers: dict[str, np.ndarray]
    cochrane: np.ndarray
    generic: np.ndarray


def _object_array(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values.where(values.str.isdigit(), None), errors="coerce").to_numpy(float)


def prepare(keys: pd.DataFrame) -> _Prepared:
    """Arrays of the normalised keys in the shapes the scorer needs."""
    surnames = [[p.surname for p in a[:AUTHOR_PREFIX]] for a in keys["authors"]]
    prefixes = [np.array([" ".join(s[:k]) for s in surnames], dtype=object)
                for k in range(1, AUTHOR_PREFIX + 1)]
    issue = keys["issue"].to_numpy(dtype=object)
    # Only Cochrane issues (1-12 a year) tell versions apart; other issue fields are too noisy.
    cochrane_issue = np.array(
        [i if c and i.isdigit() and 1 <= int(i) <= 12 else ""
         for i, c in zip(issue, keys["cochrane"])],
        dtype=object)
    # Issue numbers within a volume are small; 'issue' fields of hundreds or thousands in exports
    # are as often running or record numbers, so only the small ones may contradict.
    volume_issue = np.array([i if i.isdigit() and 1 <= int(i) <= 99 else "" for i in issue], dtype=object)
    markers = keys["markers"].tolist()
    titles = keys["title"].to_numpy(dtype=object)
    journal_code, journal_names = pd.factorize(keys["journal_raw"].replace("", None))
    first = keys["first_page"]
    last = keys["last_page"].where(keys["last_page"] != "", first)
    return _Prepared(
        title=titles,
        title_len=np.fromiter((len(t) for t in titles), dtype=np.int32, count=len(titles)),
        title_words=_object_array([R.title_words(t) for t in titles]),
        title_parts=keys["title_parts"].to_numpy(dtype=object),
        has_parts=np.array([bool(x) for x in keys["title_parts"]], dtype=bool),
        author_prefix=prefixes,
        n_authors=np.array([len(s) for s in surnames], dtype=np.int64),
        first_surname=np.array([s[0] if s else "" for s in surnames], dtype=object),
        journal_code=journal_code,
        journal_names=np.asarray(journal_names, dtype=object),
        year=keys["year"].astype("Float64").to_numpy(dtype=float, na_value=np.nan),
        volume=keys["volume"].to_numpy(dtype=object),
        first_page=first.to_numpy(dtype=object),
        page_first=_numbers(first),
        page_last=_numbers(last),
        multi_segment=np.array([len(s) > 1 for s in keys["page_starts"]], dtype=bool),
        page_starts=keys["page_starts"].to_numpy(dtype=object),
        article_number=keys["article_number"].to_numpy(dtype=bool),
        doi=keys["doi"].to_numpy(dtype=object),
        pmid=keys["pmid"].to_numpy(dtype=object),
        cochrane_issue=cochrane_issue,
        issue=volume_issue,
        abstract=keys["abstract"].str.slice(0, 500).to_numpy(dtype=object),
        markers={m: np.array([m in s for s in markers], dtype=bool) for m in MARKERS},
        cochrane=keys["cochrane"].to_numpy(dtype=bool),
        generic=np.array([R.is_generic_title(t) for t in titles], dtype=bool),
    )


def _title_similarity(p: _Prepared, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Title similarity; a bilingual title ('A; B') is also compared part by part with a
    title that has one language only. Two titles that both have parts compare whole, so
    companion papers ('X; adults' and 'X; children') do not meet on their shared part.
    """
    out = _similarity(p.title, i, j)
    for idx in np.flatnonzero(p.has_parts[i] != p.has_parts[j]):
        a, b = i[idx], j[idx]
        left = (p.title[a], *p.title_parts[a])
        right = (p.title[b], *p.title_parts[b])
        best = max((fuzz.ratio(x, y) for x in left for y in right if x and y), default=np.nan)
        out[idx] = np.fmax(out[idx], best / 100.0)
    return out


# A title cut short (an export's field limit, "..." added) keeps at least this much.
PREFIX_MIN_CHARS = 30
PREFIX_MAX_SHARE = 0.9


def _title_prefix(p: _Prepared, i: np.ndarray, j: np.ndarray, title: np.ndarray) -> np.ndarray:
    """Similarity of the shorter title to the head of the longer one, where one is at most
    90% of the other's length and keeps at least 30 characters; NaN elsewhere or where it
    cannot reach rules.PREFIX_TITLE.

    `title` (the whole-title similarity, at least fuzz.ratio of the two titles) rules most
    pairs out without building heads: an edit of the shorter title s into the head of the
    longer t, plus deleting t's tail, edits s into t, so indel(s, head) >= indel(s, t) - (|t| - |s|).
    """
    out = np.full(len(i), np.nan, dtype=np.float32)
    la, lb = p.title_len[i], p.title_len[j]
    short, long_ = np.minimum(la, lb), np.maximum(la, lb)
    # fuzz.ratio is 1 - indel / (len1 + len2); one character of slack for float32 rounding.
    indel_low = (1.0 - title) * (short + long_) - (long_ - short)
    sel = np.flatnonzero((short >= PREFIX_MIN_CHARS) & (short <= PREFIX_MAX_SHARE * long_)
                         & (indel_low <= (1.0 - R.PREFIX_TITLE) * 2 * short + 1))
    if len(sel):
        si, sj = i[sel], j[sel]
        a_short = p.title_len[si] <= p.title_len[sj]
        shorter = np.where(a_short, p.title[si], p.title[sj])
        longer = np.where(a_short, p.title[sj], p.title[si])
        heads = np.array([t[:len(s)] for s, t in zip(shorter, longer)], dtype=object)
        out[sel] = cpdist(shorter, heads, scorer=fuzz.ratio, workers=-1, dtype=np.float32) / 100.0
    return out


def _author_similarity(p: _Prepared, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Similarity of the leading surnames, over as many authors as the shorter list has."""
    k = np.minimum(np.minimum(p.n_authors[i], p.n_authors[j]), AUTHOR_PREFIX)
    out = np.full(len(i), np.nan)
    for depth in range(1, AUTHOR_PREFIX + 1):
        sel = np.flatnonzero(k == depth)
        if len(sel):
            out[sel] = _similarity(p.author_prefix[depth - 1], i[sel], j[sel])
    return out


def _page_agreement(p: _Prepared, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """1 same first page, 0 pages that cannot be one article's, NaN unknown or inconclusive."""
    out = _agreement(p.first_page, i, j)
    differ = out == 0.0
    # Online-first pagination ("1-6") vs the issue's pages; article number ("c1804") vs
    # printed pages ("1014"): neither tells the articles apart.
    inconclusive = differ & ((p.first_page[i] == "1") | (p.first_page[j] == "1")
                             | (p.article_number[i] != p.article_number[j]))
    fa, la, fb, lb = p.page_first[i], p.page_last[i], p.page_first[j], p.page_last[j]
    single_a, single_b = fa == la, fb == lb
    # "569" vs "567-569": one database gives only the last page.
    endpoint = np.where(single_a, (fa == fb) | (fa == lb), (fb == fa) | (fb == la))
    inconclusive |= differ & (single_a != single_b) & endpoint
    # Overlapping ranges ("246-250" vs "250-254"): one database has the pages wrong.
    inconclusive |= differ & ~single_a & ~single_b & (fa <= lb) & (fb <= la)
    out[inconclusive] = np.nan
    # Segments listed in another order: "233-8, 230-5" vs "230-5, 233-8".
    for idx in np.flatnonzero(differ & (p.multi_segment[i] | p.multi_segment[j])):
        if p.page_starts[i[idx]] & p.page_starts[j[idx]]:
            out[idx] = 1.0
    return out


def _journal_agreement(p: _Prepared, i: np.ndarray, j: np.ndarray,
                       wanted: np.ndarray) -> np.ndarray:
    """Whether the journal names can be one journal, decided once per distinct pair of names."""
    a, b = p.journal_code[i], p.journal_code[j]
    out = np.where((a >= 0) & (a == b), 1.0, np.nan)
    known = np.flatnonzero(wanted & (a >= 0) & (b >= 0) & (a != b))
    if len(known):
        n = len(p.journal_names)
        codes, inverse = np.unique(a[known] * n + b[known], return_inverse=True)
        verdict = np.array([journals_compatible(p.journal_names[c // n], p.journal_names[c % n])
                            for c in codes], dtype=float)
        out[known] = verdict[inverse]
    return out


def score_pairs(p: _Prepared, pairs: np.ndarray, *, plausible_only: bool = True) -> pd.DataFrame:
    """Features of each candidate pair (see `rules`); implausible pairs are dropped early."""
    i, j = pairs[:, 0], pairs[:, 1]
    title = _title_similarity(p, i, j)
    prefix = _title_prefix(p, i, j, title)
    if plausible_only:
        # The loosest title rule needs 0.75; lower titles merge only on shared identifiers
        # or citation, so everything else is dropped before the costly features.
        keep = ((title >= PLAUSIBLE_TITLE) | (prefix >= R.PREFIX_TITLE)
                | ((p.doi[i] == p.doi[j]) & (p.doi[i] != ""))
                | ((p.pmid[i] == p.pmid[j]) & (p.pmid[i] != ""))
                | ((p.volume[i] == p.volume[j]) & (p.first_page[i] == p.first_page[j])
                   & (p.volume[i] != "") & (p.first_page[i] != "")))
        i, j, title, prefix = i[keep], j[keep], title[keep], prefix[keep]
    f = pd.DataFrame({"i": i, "j": j, "title": title, "title_prefix": prefix})
    f["title_words"] = _similarity(p.title, i, j, fuzz.token_set_ratio)
    f["authors"] = _author_similarity(p, i, j)
    f["n_authors"] = np.minimum(np.minimum(p.n_authors[i], p.n_authors[j]), AUTHOR_PREFIX)
    # Token sets: "fernandes brenna" and "brenna" are one compound surname cut short.
    f["first_author"] = _similarity(p.first_surname, i, j, fuzz.token_set_ratio)
    f["abstract"] = _similarity(p.abstract, i, j)
    f["year_diff"] = np.abs(p.year[i] - p.year[j])
    f["volume"] = _agreement(p.volume, i, j)
    f["pages"] = _page_agreement(p, i, j)
    f["doi"] = _agreement(p.doi, i, j)
    f["pmid"] = _agreement(p.pmid, i, j)
    # Journal compatibility and title contrasts cost Python time per pair: work them out
    # only where a rule can use them (authors that agree or are missing, one citation,
    # shared identifiers). Elsewhere no duplicate rule fires, so the guards are moot.
    authors = f["authors"].to_numpy()
    wanted = (~(authors < 0.5) | ((f["volume"] == 1) & (f["pages"] == 1))
              | (f["doi"] == 1) | (f["pmid"] == 1)).to_numpy()
    f["journal"] = _journal_agreement(p, i, j, wanted)
    f["issue"] = _agreement(p.cochrane_issue, i, j)
    f["issue_number"] = _agreement(p.issue, i, j)
    for marker, flags in p.markers.items():
        f[f"differs_{marker}"] = flags[i] != flags[j]
    conference = p.markers["conference"]
    unflagged = np.where(conference[i], j, i)
    f["unflagged_without_pages"] = p.first_page[unflagged] == ""
    f["cochrane"] = p.cochrane[i] | p.cochrane[j]
    f["generic_title"] = p.generic[i] | p.generic[j]
    contrast = np.full(len(i), "", dtype=object)
    # Below 0.7 only rules that require the same volume and pages can merge, and those
    # override the minimal-pair guard anyway.
    words = p.title_words
    for idx in np.flatnonzero(wanted & (title >= 0.7) & (title < 1.0)).tolist():
        contrast[idx] = R.contrast(words[i[idx]], words[j[idx]])
    f["contrast"] = contrast
    return f


# --- decisions ------------------------------------------------------------------------


def decide(f: pd.DataFrame) -> pd.DataFrame:
    """Add `decision` (duplicate/uncertain/distinct), `rule` and `reason` to a features frame."""
    n = len(f)
    guard = np.full(n, "", dtype=object)
    for rule in R.GUARDS:
        hit = rule.test(f) & (guard == "")
        guard[hit] = rule.name
    rule_name = np.full(n, "", dtype=object)
    overrides = np.zeros(n, dtype=bool)
    for rule in R.DUPLICATE_RULES:
        hit = rule.test(f) & (rule_name == "")
        rule_name[hit] = rule.name
        if rule.overrides_guards:
            overrides |= hit
    duplicate = (rule_name != "") & ((guard == "") | overrides)
    uncertain = ~duplicate & ((rule_name != "") | R.worth_a_look(f))
    out = f.copy()
    out["decision"] = np.where(duplicate, "duplicate", np.where(uncertain, "uncertain", "distinct"))
    out["rule"] = np.where(duplicate, rule_name, "")
    reason = np.where(guard != "", guard, "weak_evidence")
    out["reason"] = np.where(uncertain, reason, "")
    out["guard"] = guard
    out["candidate_rule"] = rule_name  # the rule that fired, merged or blocked by a guard
    return out


# --- clustering -----------------------------------------------------------------------


class _Clusters:
    """Union-find that refuses to join two clusters holding a cannot-link pair."""

    def __init__(self, n: int, cannot_link: dict[int, set[int]]):
        self.parent = list(range(n))
        self.cannot = cannot_link  # root -> roots it must never join

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def _conflict(self, ra: int, rb: int) -> bool:
        ca = {self.find(x) for x in self.cannot.get(ra, ())}
        return rb in ca

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self._conflict(ra, rb) or self._conflict(rb, ra):
            return False
        self.parent[rb] = ra
        merged = self.cannot.pop(ra, set()) | self.cannot.pop(rb, set())
        if merged:
            self.cannot[ra] = merged
        return True


def _rule_rank() -> dict[str, int]:
    return {rule.name: rank for rank, rule in enumerate(R.DUPLICATE_RULES)}


def constrained_clusters(n: int, decided: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Labels per record and a mask of duplicate edges refused because of a cannot-link pair."""
    dup = decided["decision"].to_numpy() == "duplicate"
    i_col, j_col = decided["i"].to_numpy(), decided["j"].to_numpy()
    # Only records on a duplicate edge can end up in a cluster with anyone.
    linked = np.zeros(n, dtype=bool)
    linked[i_col[dup]] = linked[j_col[dup]] = True
    guarded = ~dup & (decided["guard"].to_numpy() != "") & linked[i_col] & linked[j_col]
    cannot: dict[int, set[int]] = {}
    for a, b in zip(i_col[guarded].tolist(), j_col[guarded].tolist()):
        cannot.setdefault(a, set()).add(b)
        cannot.setdefault(b, set()).add(a)
    clusters = _Clusters(n, cannot)
    rank = decided["rule"].map(_rule_rank()).fillna(len(R.DUPLICATE_RULES)).to_numpy()
    order = np.lexsort((-decided["title"].fillna(0).to_numpy(), rank))
    refused = np.zeros(len(decided), dtype=bool)
    for idx in order[dup[order]].tolist():
        if not clusters.union(int(i_col[idx]), int(j_col[idx])):
            refused[idx] = True
    roots = np.array([clusters.find(x) for x in range(n)])
    _, labels = np.unique(roots, return_inverse=True)
    # Renumber in order of first row so labels are stable and readable.
    first_seen: dict[int, int] = {}
    relabel = np.array([first_seen.setdefault(int(label), len(first_seen)) for label in labels])
    return relabel, refused


def _unscored_cluster_pairs(labels: np.ndarray, scored: set[tuple[int, int]]) -> np.ndarray:
    """Pairs inside clusters of three or more that were never compared directly."""
    order = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels)
    out: list[tuple[int, int]] = []
    start = 0
    for label in np.unique(labels[order]):
        members = order[start:start + sizes[label]]
        start += sizes[label]
        if len(members) < 3:
            continue
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = sorted((int(members[x]), int(members[y])))
                if (a, b) not in scored:
                    out.append((a, b))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def run(keys: pd.DataFrame) -> EngineResult:
    """Deduplicate the records whose normalised keys are given (one row each)."""
    n = len(keys)
    if n == 0:
        empty = pd.DataFrame(columns=["i", "j", "rule", "reason"])
        return EngineResult(np.empty(0, dtype=np.int64), empty, empty, 0, ())
    prepared = prepare(keys)
    pairs = candidate_pairs(keys)
    decided = decide(score_pairs(prepared, pairs))
    # Transitive closure can join records never compared: compare them and re-cluster
    # until every pair inside a cluster has passed the guards. Each round scores new
    # pairs only, so this ends.
    scored = set(zip(decided["i"].tolist(), decided["j"].tolist()))
    while True:
        labels, refused = constrained_clusters(n, decided)
        extra = _unscored_cluster_pairs(labels, scored)
        if not len(extra):
            break
        scored.update(zip(extra[:, 0].tolist(), extra[:, 1].tolist()))
        decided = pd.concat([decided, decide(score_pairs(prepared, extra, plausible_only=False))],
                            ignore_index=True)
    dup = (decided["decision"] == "duplicate").to_numpy() & ~refused
    edges = decided[dup].reset_index(drop=True)
    unc_mask = (decided["decision"] == "uncertain").to_numpy() | refused
    uncertain = decided[unc_mask].copy()
    uncertain.loc[refused[unc_mask], "reason"] = "conflicts_with_cluster"
    # Uncertain pairs already inside one cluster were settled by stronger evidence.
    same_cluster = labels[uncertain["i"].to_numpy()] == labels[uncertain["j"].to_numpy()]
    uncertain = uncertain[~same_cluster].reset_index(drop=True)
    related = link_notices(keys, labels)
    if related and len(uncertain):
        # A notice linked to its article is settled: no person needs to see that pair.
        linked = {(link.notice, int(labels[link.article])) for link in related}
        ui, uj = uncertain["i"].to_numpy(), uncertain["j"].to_numpy()
        settled = np.array([(a, int(labels[b])) in linked or (b, int(labels[a])) in linked
                            for a, b in zip(ui.tolist(), uj.tolist())], dtype=bool)
        uncertain = uncertain[~settled].reset_index(drop=True)
    return EngineResult(labels, edges, uncertain, len(pairs), tuple(related))
