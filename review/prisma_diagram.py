"""The PRISMA 2020 flow diagram, drawn with matplotlib as SVG and PNG.

Laid out like the PRISMA 2020 template (Page et al. 2021): phase labels on the left, the
databases/registers arm in two columns (main boxes and the boxes of what leaves the flow), the
other-methods arm in two more when any other-method source was used, one included box. Every
line of text is measured and wrapped before anything is placed, and each row is as tall as its
tallest box, so long source names and many exclusion reasons grow the boxes instead of
overlapping. When the consistency check fails a red banner says so and names the report file.
Output is deterministic (fixed SVG ids, no dates in metadata) so unchanged data give identical files.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from review.prisma import ArmCounts, PrismaCounts

FONT = 9.0  # box text, points
HEAD_FONT = 10.0
SMALL_FONT = 7.0
LINE = 1.35  # line height / font size
PAD = 0.09  # inner padding, inches
INDENT = 0.16  # list indent, inches
COL_W = 2.9  # databases/registers columns, inches
OTHER_W = 2.6  # other-methods columns
GAP_X = 0.45  # between the columns of one arm
ARM_GAP = 0.55  # between the arms
GAP_Y = 0.36  # between rows
PHASE_W = 0.34
MARGIN = 0.22
DPI = 150

YELLOW, GREY, BLUE = "#FFD966", "#D9D9D9", "#9DC3E6"
RED, RED_FILL = "#B00020", "#FDE2E4"


@dataclass(frozen=True)
class Para:
    """A paragraph of box text: wrapped to the box, later lines of it hang under its first."""

    text: str
    level: int = 0  # indent level
    bold: bool = False
    colour: str = "black"


@dataclass
class Line:
    text: str
    x: float  # offset from the box's inner left edge, inches
    bold: bool
    colour: str
    size: float


@dataclass
class Box:
    key: str
    x: float
    y: float  # top, inches from the top of the figure
    w: float
    h: float = 0.0
    lines: list[Line] = field(default_factory=list)
    fill: str = "white"
    edge: str = "black"
    rotate: bool = False
    centre: bool = False


@dataclass
class Layout:
    width: float
    height: float
    boxes: dict[str, Box]
    arrows: list[tuple[tuple[float, float], ...]]  # polylines; the last segment carries the head


def _n(v: int) -> str:
    return f"(n\u00a0=\u00a0{v:,})"  # no-break spaces: a count is never split over two lines


# ===================================================================== text measuring and wrapping

def text_measurer() -> Callable[[str, float, bool], float]:
    """Width in inches of a text at a size (points), measured with the Agg renderer and DejaVu Sans."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    renderer = RendererAgg(100, 100, 100)
    cache: dict[tuple[str, float, bool], float] = {}

    def width(text: str, size: float, bold: bool) -> float:
        key = (text, size, bold)
        if key not in cache:
            prop = FontProperties(family="DejaVu Sans", size=size, weight="bold" if bold else "normal")
            w, _, _ = renderer.get_text_width_height_descent(text, prop, ismath=False)
            cache[key] = w / 100 * 1.03  # a little slack for hinting differences between outputs
        return cache[key]

    return width


def wrap(text: str, width: float, measure, size: float = FONT, bold: bool = False) -> list[str]:
    """Greedy word wrap to `width` inches; a word longer than a line is cut."""
    lines: list[str] = []
    current = ""
    for word in [w for w in text.split(" ") if w]:  # split on plain spaces only (keeps no-break spaces)
        trial = f"{current} {word}" if current else word
        if measure(trial, size, bold) <= width:
            current = trial
            continue
        if current:
            lines.append(current)
        while measure(word, size, bold) > width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and measure(word[:cut] + "-", size, bold) > width:
                cut -= 1
            lines.append(word[:cut] + "-")
            word = word[cut:]
        current = word
    if current or not lines:
        lines.append(current)
    return lines


def _fill(box: Box, paras: list[Para], measure, size: float = FONT) -> Box:
    inner = box.w - 2 * PAD
    for p in paras:
        first = p.level * INDENT
        rest = first + (0.6 * INDENT if p.level else 0)  # hanging indent for wrapped list items
        words = wrap(p.text, inner - first, measure, size, p.bold)
        if len(words) > 1:  # re-wrap the continuation lines to their hanging indent
            tail = wrap(" ".join(words[1:]), inner - rest, measure, size, p.bold)
            words = [words[0], *tail]
        for i, t in enumerate(words):
            box.lines.append(Line(t, first if i == 0 else rest, p.bold, p.colour, size))
    box.h = max(box.h, len(box.lines) * size * LINE / 72 + 2 * PAD)
    return box


# ===================================================================== what each box says

def _identified(arm: ArmCounts, categories: tuple[str, ...]) -> list[Para]:
    from review.prisma import CATEGORY_LABELS

    out = [Para("Records identified from:", bold=True)]
    for cat in categories:
        mine = [s for s in arm.sources if s.category == cat]
        label = CATEGORY_LABELS[cat]
        if len(mine) == 1 and mine[0].name.casefold() == label.casefold():  # 'websites' under Websites: one line
            out.append(Para(f"{label} {_n(mine[0].records)}" + (f"; {mine[0].date_text}" if mine[0].date_text
                                                                 else ""), 1))
            continue
        out.append(Para(f"{label} {_n(arm.by_category(cat))}", 1))
        for s in mine:
            out.append(Para(f"{s.name} {_n(s.records)}" + (f"; {s.date_text}" if s.date_text else ""), 2))
    return out


def _reasons(title: str, total: int, reasons: tuple[tuple[str, int], ...]) -> list[Para]:
    if not reasons:
        return [Para(f"{title} {_n(total)}", bold=True)]
    return [Para(f"{title} {_n(total)}:", bold=True)] + [Para(f"{r} {_n(n)}", 1) for r, n in reasons]


def _warn(label: str, n: int) -> list[Para]:
    return [Para(f"{label} {_n(n)}", 1, colour=RED)] if n else []


def _note(label: str, n: int) -> list[Para]:
    return [Para(f"{label} {_n(n)}", 1, colour="#444444")] if n else []


def box_texts(c: PrismaCounts) -> dict[str, list[Para]]:
    """The text of every box, keyed by box name (dbr_* and other_* per arm)."""
    d, o = c.dbr, c.other
    texts = {
        "dbr_identified": _identified(d, ("database", "register")),
        "dbr_removed": [Para("Records removed before screening:", bold=True),
                        Para(f"Duplicate records {_n(d.duplicates)}", 1),
                        Para(f"Records marked as ineligible by automation tools {_n(d.automatic)}", 1),
                        Para(f"Records removed for other reasons {_n(d.removed_other)}", 1)],
        "dbr_screened": [Para(f"Records screened {_n(d.screened)}", bold=True),
                         *_note("Awaiting screening", d.awaiting_screening),
                         *_warn("Unresolved conflicts, not counted", d.screening_conflicts)],
        "dbr_screen_excluded": _reasons("Records excluded", d.screen_excluded, d.screen_reasons),
        "dbr_sought": [Para(f"Reports sought for retrieval {_n(d.sought)}", bold=True)],
        "dbr_not_retrieved": [Para(f"Reports not retrieved {_n(d.not_retrieved)}", bold=True)],
        "dbr_assessed": [Para(f"Reports assessed for eligibility {_n(d.assessed)}", bold=True),
                         *_note("Awaiting assessment", d.awaiting_assessment),
                         *_warn("Unresolved conflicts, not counted", d.assessment_conflicts)],
        "dbr_excluded": _reasons("Reports excluded", d.excluded, d.exclusion_reasons),
        "included": [Para(f"Studies included in review {_n(c.new_studies)}", bold=True),
                     Para(f"Reports of included studies {_n(c.new_reports)}", bold=True)],
    }
    if c.has_other_methods:
        within = o.duplicates - o.duplicates_of_dbr
        texts |= {
            "other_identified": _identified(o, ("websites", "organisations", "citations")),
            "other_not_sought": [
                Para(f"Records not sought for retrieval {_n(o.identified - o.sought)}:", bold=True),
                Para(f"Duplicates of database or register records {_n(o.duplicates_of_dbr)}", 1),
                *([Para(f"Duplicates within other methods {_n(within)}", 1)] if within else []),
                *([Para(f"Removed for other reasons {_n(o.removed_other)}", 1)] if o.removed_other else []),
                Para(f"Excluded on title/abstract {_n(o.screen_excluded)}", 1),
                *_note("Awaiting screening", o.awaiting_screening),
                *_warn("Unresolved conflicts, not counted", o.screening_conflicts)],
            "other_sought": [Para(f"Reports sought for retrieval {_n(o.sought)}", bold=True)],
            "other_not_retrieved": [Para(f"Reports not retrieved {_n(o.not_retrieved)}", bold=True)],
            "other_assessed": [Para(f"Reports assessed for eligibility {_n(o.assessed)}", bold=True),
                               *_note("Awaiting assessment", o.awaiting_assessment),
                               *_warn("Unresolved conflicts, not counted", o.assessment_conflicts)],
            "other_excluded": _reasons("Reports excluded", o.excluded, o.exclusion_reasons),
        }
    return texts


# ===================================================================== layout

ROWS = (("identification", ("dbr_identified", "dbr_removed", "other_identified", None)),
        ("screened", ("dbr_screened", "dbr_screen_excluded", None, "other_not_sought")),
        ("sought", ("dbr_sought", "dbr_not_retrieved", "other_sought", "other_not_retrieved")),
        ("assessed", ("dbr_assessed", "dbr_excluded", "other_assessed", "other_excluded")),
        ("included", ("included", None, None, None)))


def layout_flow(counts: PrismaCounts, measure=None, *, report_name: str = "consistency.md") -> Layout:
    """Place every box and arrow (inches, y downwards) from measured, wrapped text."""
    measure = measure or text_measurer()
    texts = box_texts(counts)
    other = counts.has_other_methods
    x_a = MARGIN + PHASE_W + 0.22
    xs = [x_a, x_a + COL_W + GAP_X]
    widths = [COL_W, COL_W]
    if other:
        xs += [xs[1] + COL_W + ARM_GAP, xs[1] + COL_W + ARM_GAP + OTHER_W + GAP_X]
        widths += [OTHER_W, OTHER_W]
    width = xs[-1] + widths[-1] + MARGIN
    boxes: dict[str, Box] = {}
    y = MARGIN

    if not counts.ok:
        n_ids = len(counts.problem_record_ids)
        banner = Box("warning", MARGIN, y, width - 2 * MARGIN, fill=RED_FILL, edge=RED)
        _fill(banner, [Para(f"WARNING: the consistency check found {len(counts.problems)} problem(s) involving "
                            f"{n_ids} record(s); the counts below leave those records out and may not add up. "
                            f"See {report_name} for the record ids.", bold=True, colour=RED)], measure, HEAD_FONT)
        boxes["warning"] = banner
        y += banner.h + 0.22

    heads = [Box("head_dbr", xs[0], y, xs[1] + widths[1] - xs[0], fill=YELLOW, centre=True)]
    _fill(heads[0], [Para("Identification of new studies via databases and registers", bold=True)], measure,
          HEAD_FONT)
    if other:
        heads.append(Box("head_other", xs[2], y, xs[3] + widths[3] - xs[2], fill=GREY, centre=True))
        _fill(heads[1], [Para("Identification of new studies via other methods", bold=True)], measure, HEAD_FONT)
    head_h = max(h.h for h in heads)
    for h in heads:
        h.h = head_h
        boxes[h.key] = h
    y += head_h + 0.28

    row_top: dict[str, float] = {}
    row_h: dict[str, float] = {}
    for row, keys in ROWS:
        placed = []
        for col, key in enumerate(keys):
            if key is None or key not in texts:
                continue
            placed.append(_fill(Box(key, xs[col], y, widths[col]), texts[key], measure))
        h = max(b.h for b in placed)
        if row in ("identification", "included"):  # room for the rotated phase label beside it
            h = max(h, measure(row.capitalize(), HEAD_FONT, True) + 2 * PAD)
        for b in placed:
            b.h = h  # a row's boxes share one height, so the arrows between them run straight
            boxes[b.key] = b
        row_top[row], row_h[row] = y, h
        y += h + GAP_Y
    bottom = y - GAP_Y

    for key, label, first, last in (("phase_identification", "Identification", "identification", "identification"),
                                    ("phase_screening", "Screening", "screened", "assessed"),
                                    ("phase_included", "Included", "included", "included")):
        top = row_top[first]
        phase = Box(key, MARGIN, top, PHASE_W, row_top[last] + row_h[last] - top, fill=BLUE, rotate=True)
        phase.lines.append(Line(label, 0, True, "black", HEAD_FONT))
        boxes[key] = phase

    footer = Box("stamp", MARGIN, bottom + 0.2, width - 2 * MARGIN, edge="none", fill="none")
    _fill(footer, [Para(counts.stamp.line() + "; written by review prisma", colour="#555555")], measure, SMALL_FONT)
    footer.h -= 2 * PAD
    boxes["stamp"] = footer
    height = footer.y + footer.h + MARGIN

    arrows = []

    def down(a: str, b: str):
        ba, bb = boxes[a], boxes[b]
        x = ba.x + ba.w / 2
        arrows.append(((x, ba.y + ba.h), (x, bb.y)))

    def right(a: str, b: str):
        ba, bb = boxes[a], boxes[b]
        ym = ba.y + ba.h / 2
        arrows.append(((ba.x + ba.w, ym), (bb.x, ym)))

    for a, b in (("dbr_identified", "dbr_screened"), ("dbr_screened", "dbr_sought"), ("dbr_sought", "dbr_assessed"),
                 ("dbr_assessed", "included")):
        down(a, b)
    for a, b in (("dbr_identified", "dbr_removed"), ("dbr_screened", "dbr_screen_excluded"),
                 ("dbr_sought", "dbr_not_retrieved"), ("dbr_assessed", "dbr_excluded")):
        right(a, b)
    if other:
        down("other_identified", "other_sought")
        c = boxes["other_identified"]
        side = boxes["other_not_sought"]
        x_line = c.x + c.w / 2
        arrows.append(((x_line, side.y + side.h / 2), (side.x, side.y + side.h / 2)))
        down("other_sought", "other_assessed")
        right("other_sought", "other_not_retrieved")
        right("other_assessed", "other_excluded")
        oa, inc = boxes["other_assessed"], boxes["included"]
        ym = inc.y + inc.h / 2
        arrows.append(((oa.x + oa.w / 2, oa.y + oa.h), (oa.x + oa.w / 2, ym), (inc.x + inc.w, ym)))
    return Layout(width, height, boxes, arrows)


# ===================================================================== drawing

def draw_flow(counts: PrismaCounts, *, report_name: str = "consistency.md", new_figure=None) -> Figure:
    """The flow diagram as a matplotlib Figure; no pyplot state unless `new_figure` (figsize, dpi) -> Figure
    is pyplot.figure, as for a notebook that shows figures inline."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    lay = layout_flow(counts, report_name=report_name)
    fig = (new_figure or Figure)(figsize=(lay.width, lay.height), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, lay.width)
    ax.set_ylim(lay.height, 0)
    ax.set_axis_off()
    for b in lay.boxes.values():
        if b.edge != "none":
            style = "round,pad=0,rounding_size=0.06" if b.fill in (YELLOW, GREY, BLUE, RED_FILL) else "square,pad=0"
            ax.add_patch(FancyBboxPatch((b.x, b.y), b.w, b.h, boxstyle=style, facecolor=b.fill, edgecolor=b.edge,
                                        linewidth=1.6 if b.key == "warning" else 0.9, gid=f"box_{b.key}"))
        if b.rotate:
            ln = b.lines[0]
            ax.text(b.x + b.w / 2, b.y + b.h / 2, ln.text, rotation=90, ha="center", va="center", fontsize=ln.size,
                    fontweight="bold", family="DejaVu Sans", gid=f"text_{b.key}")
            continue
        top = b.y + PAD if b.edge != "none" else b.y
        if b.centre:  # header boxes: lines centred both ways
            top = b.y + (b.h - len(b.lines) * b.lines[0].size * LINE / 72) / 2
        for i, ln in enumerate(b.lines):
            y = top + i * ln.size * LINE / 72 + ln.size * (LINE - 1) / 2 / 72
            if b.centre:
                ax.text(b.x + b.w / 2, y, ln.text, ha="center", va="top", fontsize=ln.size,
                        fontweight="bold" if ln.bold else "normal", color=ln.colour, family="DejaVu Sans",
                        gid=f"text_{b.key}_{i}")
            else:
                ax.text(b.x + (PAD if b.edge != "none" else 0) + ln.x, y, ln.text, ha="left", va="top",
                        fontsize=ln.size, fontweight="bold" if ln.bold else "normal", color=ln.colour,
                        family="DejaVu Sans", gid=f"text_{b.key}_{i}")
    for path in lay.arrows:
        if len(path) > 2:
            xs, ys = zip(*path[:-1])
            ax.plot(xs, ys, color="black", linewidth=1.0, solid_capstyle="butt")
        ax.annotate("", xy=path[-1], xytext=path[-2],
                    arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.0, "shrinkA": 0,
                                "shrinkB": 0, "mutation_scale": 11})
    return fig


def save_flow(counts: PrismaCounts, svg: Path, png: Path, *, report_name: str = "consistency.md") -> None:
    """Write the diagram as SVG and PNG; same data give byte-identical files."""
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "review-prisma", "svg.fonttype": "path", "path.simplify": False}):
        fig = draw_flow(counts, report_name=report_name)
        for path, fmt, meta in ((Path(svg), "svg", {"Date": None, "Creator": None}),
                                (Path(png), "png", {"Software": None})):
            tmp = path.with_name(path.name + ".tmp")
            fig.savefig(tmp, format=fmt, dpi=DPI, metadata=meta, facecolor="white")
            tmp.replace(path)
