"""The pack's charts: matplotlib figures written as inline SVG, byte for byte the same for the same data.

matplotlib's SVG carries a creation date, random ids (unless
``svg.hashsalt`` is set) and, with glyphs drawn as paths, font ids shared
by every chart. Here: the date and creator are left out, the salt is fixed,
text stays text (``svg.fonttype: none``, drawn by the reader's sans-serif
font), the XML prolog and the metadata block are cut, and every id (and
every reference to one) is prefixed with the figure's name, so several
charts live in one HTML page without two elements sharing an id.

Points and money stay integers and Decimals everywhere else; they become
floats here, at the plotting edge, and nowhere else. matplotlib is imported
when a chart is drawn, not when the package is.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Callable, Sequence

from .model import Figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["SVG_STYLE", "Series", "bar_figure", "svg_of"]

SVG_STYLE = {
    "svg.hashsalt": "loyalty-accounts-pack",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
"""The rc settings every chart is drawn with."""

PALETTE = ("#2f6f9f", "#c0504d", "#9bbb59", "#8064a2", "#f79646", "#4bacc6", "#7f7f7f")

_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_ID = re.compile(r'\bid="([^"]+)"')


def _prefixed(svg: str, prefix: str) -> str:
    """``svg`` with every id and every ``#id`` reference prefixed ``{prefix}-``."""

    ids = set(_ID.findall(svg))
    svg = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})" if m.group(1) in ids else m.group(0), svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"' if m.group(1) in ids else m.group(0), svg)


def svg_of(name: str, draw: Callable[["Axes"], None], *, width: float = 8.0, height: float = 3.6) -> str:
    """Inline SVG markup of one chart: ``draw`` fills the axes; size in inches (72 pt each)."""

    import matplotlib
    from matplotlib.figure import Figure as MplFigure

    with matplotlib.rc_context(SVG_STYLE):
        figure = MplFigure(figsize=(width, height), layout="constrained")
        draw(figure.subplots())
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    svg = _METADATA.sub("", _PROLOG.sub("", out.getvalue(), count=1), count=1)
    return _prefixed(svg, name.replace("_", "-"))


Series = tuple[str, Sequence[float]]
"""A legend label and one value per category (floats: this module is the plotting edge)."""


def bar_figure(
    name: str,
    title: str,
    caption: str,
    *,
    categories: Sequence[str],
    series: Sequence[Series],
    unit: str,
) -> Figure:
    """Stacked bars, one per category: each series' positive values stacked up from zero, negative ones down."""

    def draw(axes: "Axes") -> None:
        up = [0.0] * len(categories)
        down = [0.0] * len(categories)
        positions = list(range(len(categories)))
        for index, (label, values) in enumerate(series):
            bottoms = [down[i] if v < 0 else up[i] for i, v in enumerate(values)]
            axes.bar(positions, values, bottom=bottoms, label=label, color=PALETTE[index % len(PALETTE)], width=0.7)
            for i, v in enumerate(values):
                if v < 0:
                    down[i] += v
                else:
                    up[i] += v
        axes.set_xticks(positions, list(categories), rotation=45 if len(categories) > 6 else 0, ha="right" if len(categories) > 6 else "center")
        axes.set_ylabel(unit)
        axes.axhline(0, color="#444444", linewidth=0.8)
        axes.grid(axis="y", color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        if series:
            axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)

    return Figure(name=name, title=title, svg=svg_of(name, draw), caption=caption)
