"""The learned half of the classifier: a TF-IDF + logistic-regression text model of the evidence tier.

Why: rules read the wording they were written for; abstracts that use none of it (an older trial that
never says "randomised", a comparison of two regimens with no design word) fell to a silent default.
The model reads every word of title and abstract, so it can back a weak rule or stand in when no rule
fires; decide.py uses it only there (see the package docstring for the combination rule).

The model is fitted with scikit-learn and saved as plain JSON (vocabulary, idf, coefficients,
temperature): no pickle, so a file built with one scikit-learn version reads with any other, and a
prediction is a few numpy lines, fast enough to run inside the classifier's hot loop.

Training data: `training/real_labelled.jsonl` (every real labelled abstract the project holds) plus, in a
review, the designs its reviewers confirmed. `python -m review.classify.training` rebuilds the bundled
`design_model.json` from the repository alone; the same inputs give the same file (and version).
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from review.errors import InputError
from review.models import DESIGN_TIER, DESIGNS, LABELLED_TIERS

HERE = Path(__file__).resolve().parent
TRAINING = HERE / "training" / "real_labelled.jsonl"
BUNDLED = HERE / "design_model.json"
FORMAT = 1
# Word uni- and bigrams of title and abstract. min_df=2: a word seen in one abstract only is that
# abstract's, not its design's (the one-record rule this project refuses, learned or written).
PARAMS = {"ngram_range": [1, 2], "min_df": 2, "sublinear_tf": True, "C": 4.0}
_TOKEN = re.compile(r"(?u)\b[^\W\d_][\w-]+\b")  # words of 2+ characters that start with a letter
_STOP = frozenset("the a an of and or in on to for with by from at as is are was were be been this that "
                  "these those it its we our their there which".split())


def model_text(title: str | None, abstract: str | None) -> str:
    """What the model reads: the title (twice: it names the design more often than any sentence) and abstract."""
    t = title or ""
    return f"{t} . {t} . {abstract or ''}"


def analyse(text: str) -> list[str]:
    """Lower-cased word unigrams and bigrams, stop words dropped (pure; the same at fit and predict time)."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOP]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


@dataclass(frozen=True)
class TextModel:
    """A fitted tier model and a design model over the same features."""

    version: str
    vocabulary: dict[str, int]
    idf: np.ndarray
    tiers: tuple[str, ...]
    tier_coef: np.ndarray
    tier_intercept: np.ndarray
    designs: tuple[str, ...]
    design_coef: np.ndarray
    design_intercept: np.ndarray
    temperature: float
    n_train: int
    n_confirmed: int = 0

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sparse TF-IDF of one text: (column indices, l2-normalised weights)."""
        counts: dict[int, int] = {}
        vocab = self.vocabulary
        for term in analyse(text):
            j = vocab.get(term)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            return np.empty(0, dtype=np.int64), np.empty(0)
        cols = np.fromiter(counts, dtype=np.int64, count=len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=float, count=len(counts)))
        w = tf * self.idf[cols]
        return cols, w / math.sqrt(float(w @ w))

    def predict(self, text: str) -> tuple[dict[str, float], dict[str, float]]:
        """Calibrated tier probabilities, and design probabilities (uncalibrated, to rank designs in a tier)."""
        cols, w = self.features(text)
        tier_logit = self.tier_coef[:, cols] @ w + self.tier_intercept
        design_logit = self.design_coef[:, cols] @ w + self.design_intercept
        return (dict(zip(self.tiers, _softmax(tier_logit / self.temperature))),
                dict(zip(self.designs, _softmax(design_logit))))

    def best_design(self, design_probs: dict[str, float], tier: str) -> str:
        """The likeliest design within a tier."""
        inside = [(p, d) for d, p in design_probs.items() if DESIGN_TIER[d].value == tier]
        return max(inside)[1] if inside else next(d for d in DESIGNS if DESIGN_TIER[d].value == tier)

    def to_json(self) -> dict:
        terms = sorted(self.vocabulary, key=self.vocabulary.get)
        return {"format": FORMAT, "version": self.version, "params": PARAMS, "n_train": self.n_train,
                "n_confirmed": self.n_confirmed, "temperature": self.temperature, "vocabulary": terms,
                "idf": _round(self.idf), "tiers": list(self.tiers), "tier_coef": _round(self.tier_coef),
                "tier_intercept": _round(self.tier_intercept), "designs": list(self.designs),
                "design_coef": _round(self.design_coef), "design_intercept": _round(self.design_intercept)}

    @classmethod
    def from_json(cls, data: dict, where: str = "design model") -> "TextModel":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(f"{where}: not a design model file of format {FORMAT}; rebuild it with "
                             "`review classify --retrain` or `python -m review.classify.training`")
        terms = data["vocabulary"]
        return cls(version=data["version"], vocabulary={t: i for i, t in enumerate(terms)},
                   idf=np.asarray(data["idf"], dtype=float), tiers=tuple(data["tiers"]),
                   tier_coef=np.asarray(data["tier_coef"], dtype=float),
                   tier_intercept=np.asarray(data["tier_intercept"], dtype=float), designs=tuple(data["designs"]),
                   design_coef=np.asarray(data["design_coef"], dtype=float),
                   design_intercept=np.asarray(data["design_intercept"], dtype=float),
                   temperature=float(data["temperature"]), n_train=int(data["n_train"]),
                   n_confirmed=int(data.get("n_confirmed", 0)))


def _softmax(z: np.ndarray) -> list[float]:
    e = np.exp(z - z.max())
    return (e / e.sum()).tolist()


def _round(a: np.ndarray) -> list:
    return np.round(np.asarray(a, dtype=float), 6).tolist()  # 6 digits: byte-stable files, no loss that matters


# --- fitting ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Example:
    """One labelled abstract: where it came from, its text and its design."""

    id: str
    text: str
    design: str
    group: str  # records of one group stay in one cross-validation fold (same first author: same team)


def load_training(path: Path = TRAINING) -> list[Example]:
    """The bundled real labelled abstracts."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {n}: not valid JSON ({exc.msg})") from None
        if row.get("design") not in DESIGNS:
            raise InputError(f"{path}: line {n}: unknown design {row.get('design')!r}")
        out.append(Example(row["id"], model_text(row.get("title"), row.get("abstract")), row["design"],
                           group_of(row.get("authors"), row.get("title"))))
    return out


def group_of(authors: Sequence[str] | None, title: str | None) -> str:
    """A first author's surname (papers of one team share wording), else the title's first words."""
    if authors:
        first = str(authors[0]).replace(",", " ").split()
        if first:
            return "author:" + max(first, key=len).lower()
    return "title:" + " ".join((title or "").lower().split()[:4])


def _vectorise(texts: Sequence[str]):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer=analyse, min_df=PARAMS["min_df"], sublinear_tf=PARAMS["sublinear_tf"],
                          norm="l2", smooth_idf=True)
    return vec, vec.fit_transform(texts)


def _logistic(X, y):
    from sklearn.linear_model import LogisticRegression

    # Balanced classes: few trials exist for kratom, and a model that never says "trial" is no use.
    return LogisticRegression(C=PARAMS["C"], class_weight="balanced", max_iter=5000).fit(X, y)


def _tier_probs_raw(clf, X) -> np.ndarray:
    return clf.decision_function(X)


def fit_temperature(logits: np.ndarray, truth: Sequence[int]) -> float:
    """The temperature that minimises the log loss of out-of-fold tier predictions (calibration)."""
    best_t, best_loss = 1.0, math.inf
    idx = np.asarray(truth)
    for t in np.arange(0.1, 5.01, 0.05):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -float(logp[np.arange(len(idx)), idx].mean())
        if loss < best_loss - 1e-12:
            best_t, best_loss = float(round(t, 2)), loss
    return best_t


def folds(examples: Sequence[Example], k: int = 5) -> list[list[int]]:
    """k folds of example indices, whole groups per fold, deterministic (grouped cross-validation)."""
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        groups.setdefault(e.group, []).append(i)
    # Spread groups by a hash (stable across runs and Python versions), largest first into the emptiest fold.
    order = sorted(groups, key=lambda g: (-len(groups[g]), hashlib.sha1(g.encode()).hexdigest()))
    out: list[list[int]] = [[] for _ in range(k)]
    for g in order:
        min(out, key=len).extend(groups[g])
    return [sorted(f) for f in out]


def fit(examples: Sequence[Example], *, n_confirmed: int = 0, calibrate: bool = True) -> TextModel:
    """Fit the tier and design models; the temperature comes from grouped out-of-fold predictions."""
    if len({DESIGN_TIER[e.design].value for e in examples}) < 2:
        raise InputError("the design model needs labelled abstracts of at least two tiers")
    texts = [e.text for e in examples]
    tiers = [DESIGN_TIER[e.design].value for e in examples]
    vec, X = _vectorise(texts)
    tier_clf = _logistic(X, tiers)
    design_clf = _logistic(X, [e.design for e in examples])
    temperature = _oof_temperature(examples, tiers, list(tier_clf.classes_)) if calibrate else 1.0
    vocab = {t: int(i) for t, i in vec.vocabulary_.items()}
    digest = hashlib.sha256(json.dumps([PARAMS, [(e.id, e.text, e.design) for e in examples]],
                                       ensure_ascii=False).encode()).hexdigest()[:12]
    tier_coef, tier_int = _as_multiclass(tier_clf)
    design_coef, design_int = _as_multiclass(design_clf)
    return TextModel(version=f"model-{digest}", vocabulary=vocab, idf=vec.idf_, tiers=tuple(tier_clf.classes_),
                     tier_coef=tier_coef, tier_intercept=tier_int, designs=tuple(design_clf.classes_),
                     design_coef=design_coef, design_intercept=design_int, temperature=temperature,
                     n_train=len(examples), n_confirmed=n_confirmed)


def _as_multiclass(clf) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients with one row per class (a two-class model has one row: make it two, softmax-equivalent)."""
    coef, intercept = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return coef, intercept


def _oof_temperature(examples: Sequence[Example], tiers: Sequence[str], classes: list[str]) -> float:
    logits, truth = [], []
    for fold in folds(examples):
        held = set(fold)
        train = [e for i, e in enumerate(examples) if i not in held]
        if len({DESIGN_TIER[e.design] for e in train}) < len(classes):
            continue  # a tier missing from the training folds: its logits would not line up
        vec, X = _vectorise([e.text for e in train])
        clf = _logistic(X, [DESIGN_TIER[e.design].value for e in train])
        z = clf.decision_function(vec.transform([examples[i].text for i in fold]))
        logits.append(z)
        truth += [classes.index(tiers[i]) for i in fold]
    return fit_temperature(np.vstack(logits), truth) if logits else 1.0


# --- loading ---------------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _load_file(path: str, mtime_ns: int) -> TextModel:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the design model ({exc})") from None
    return TextModel.from_json(data, path)


def load(path: Path = BUNDLED) -> TextModel:
    """A model file (cached until the file changes)."""
    if not path.exists():
        raise InputError(f"{path}: no design model; build it with `python -m review.classify.training`")
    return _load_file(str(path), path.stat().st_mtime_ns)


def from_text(data: str, where: str) -> TextModel:
    """A model stored as JSON text (the store keeps a review's retrained model this way)."""
    try:
        return TextModel.from_json(json.loads(data), where)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: the stored design model is not valid JSON ({exc.msg})") from None


def dumps(model: TextModel) -> str:
    return json.dumps(model.to_json(), ensure_ascii=False, separators=(",", ":"))


def build_bundled(out: Path = BUNDLED) -> TextModel:
    """Rebuild the bundled model from the repository's training data (deterministic)."""
    model = fit(load_training())
    out.write_text(dumps(model) + "\n", encoding="utf-8")
    return model


def examples_from(rows: Iterable[tuple[str, str | None, str | None, str]]) -> list[Example]:
    """(id, title, abstract, design) rows, e.g. a review's confirmed designs, as training examples."""
    return [Example(i, model_text(t, a), d, "review:" + i) for i, t, a, d in rows if d in DESIGNS]
