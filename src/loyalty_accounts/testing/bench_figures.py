"""The benchmark's figures: what one side did in one scenario, the comparison, and how both are printed.

Pure values and formatting, no I/O (``scripts/bench.py`` measures, this adds
up and prints). Units: seconds (``wall_s`` wall clock, ``cpu_s`` client CPU
from ``time.process_time``), kibibytes for peak memory (``ru_maxrss`` on
Linux), load averages as ``os.getloadavg`` gives them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..vocabulary.frozen import Frozen

__all__ = [
    "Side",
    "Row",
    "HEADERS",
    "table_cells",
    "to_json",
    "split_rounds",
    "parse_sizes",
    "format_rate",
    "format_ratio",
    "format_ms",
    "format_per_op",
    "format_mib",
    "format_load",
]


class Side(Frozen):
    """One side's totals in one scenario: ``ops`` operations (or reports) in ``wall_s`` seconds.

    ``requests`` counts every HTTP request the side sent (raw: one per replayed post or read), ``refused``
    the operations the server answered with a refusal (counted in ``ops``: each was a full round trip),
    ``peak_rss_kib`` the client's peak memory growth when measured.
    """

    ops: int
    wall_s: float
    cpu_s: float
    requests: int
    refused: int = 0
    peak_rss_kib: int | None = None

    @property
    def ops_per_s(self) -> float | None:
        return self.ops / self.wall_s if self.ops and self.wall_s > 0 else None

    @property
    def cpu_ms_per_op(self) -> float | None:
        return 1000 * self.cpu_s / self.ops if self.ops else None

    @property
    def requests_per_op(self) -> float | None:
        return self.requests / self.ops if self.ops else None

    @property
    def seconds_per_op(self) -> float | None:
        return self.wall_s / self.ops if self.ops else None

    def plus(self, other: Side) -> Side:
        """Two rounds of the same side added up (peak memory: the larger)."""

        peaks = [p for p in (self.peak_rss_kib, other.peak_rss_kib) if p is not None]
        return Side(
            ops=self.ops + other.ops,
            wall_s=self.wall_s + other.wall_s,
            cpu_s=self.cpu_s + other.cpu_s,
            requests=self.requests + other.requests,
            refused=self.refused + other.refused,
            peak_rss_kib=max(peaks) if peaks else None,
        )


class Row(Frozen):
    """One scenario: the project's side and the raw side, the load average around it, and why it was skipped."""

    scenario: str
    project: Side | None = None
    raw: Side | None = None
    load_start: tuple[float, float, float] | None = None
    load_end: tuple[float, float, float] | None = None
    note: str = ""
    skipped: str | None = None

    @property
    def ratio(self) -> float | None:
        """Project ÷ raw throughput (1.0: as fast as raw Formance), None when either side is missing."""

        if self.project is None or self.raw is None:
            return None
        mine, theirs = self.project.ops_per_s, self.raw.ops_per_s
        if mine is None or not theirs:
            return None
        return mine / theirs


HEADERS = (
    "scenario",
    "ops",
    "project op/s",
    "raw op/s",
    "project÷raw",
    "req/op project",
    "req/op raw",
    "CPU ms/op project",
    "CPU ms/op raw",
    "peak MiB",
    "load start→end",
)


def format_rate(value: float | None) -> str:
    """Operations per second: two decimals below 10, one below 100, whole numbers from 100 up; ``–`` for none."""

    if value is None:
        return "–"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def format_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def format_ms(value: float | None) -> str:
    """Milliseconds with two decimals (CPU per operation is often well under one)."""

    return "–" if value is None else f"{value:.2f}"


def format_per_op(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def format_mib(kib: int | None) -> str:
    return "–" if kib is None else f"{kib / 1024:.1f}"


def format_load(start: tuple[float, float, float] | None, end: tuple[float, float, float] | None) -> str:
    """The one-minute load average before and after: ``1.20→1.85``."""

    if start is None or end is None:
        return "–"
    return f"{start[0]:.2f}→{end[0]:.2f}"


def table_cells(row: Row) -> list[str]:
    """The printed cells of ``row``, in the order of :data:`HEADERS`; a skipped row says why in the second cell."""

    if row.skipped is not None:
        return [row.scenario, "skipped"] + [""] * (len(HEADERS) - 2)
    project, raw = row.project, row.raw
    ops = project.ops if project is not None else raw.ops if raw is not None else 0
    peaks = [s.peak_rss_kib for s in (project, raw) if s is not None and s.peak_rss_kib is not None]
    return [
        row.scenario,
        str(ops),
        format_rate(project.ops_per_s if project else None),
        format_rate(raw.ops_per_s if raw else None),
        format_ratio(row.ratio),
        format_per_op(project.requests_per_op if project else None),
        format_per_op(raw.requests_per_op if raw else None),
        format_ms(project.cpu_ms_per_op if project else None),
        format_ms(raw.cpu_ms_per_op if raw else None),
        format_mib(max(peaks)) if peaks else "–",
        format_load(row.load_start, row.load_end),
    ]


def _side_json(side: Side | None) -> dict[str, Any] | None:
    if side is None:
        return None
    return {
        **side.model_dump(),
        "ops_per_s": side.ops_per_s,
        "cpu_ms_per_op": side.cpu_ms_per_op,
        "requests_per_op": side.requests_per_op,
    }


def to_json(rows: Sequence[Row], **context: Any) -> dict[str, Any]:
    """Every row with its derived figures, and ``context`` (server, sizes...) beside them."""

    return {
        **context,
        "scenarios": [
            {
                "scenario": row.scenario,
                "skipped": row.skipped,
                "note": row.note,
                "ratio": row.ratio,
                "load_start": row.load_start,
                "load_end": row.load_end,
                "project": _side_json(row.project),
                "raw": _side_json(row.raw),
            }
            for row in rows
        ],
    }


def split_rounds(total: int, rounds: int) -> list[int]:
    """``total`` operations in ``rounds`` rounds as even as can be, larger first; no empty round.

    ``split_rounds(10, 3) == [4, 3, 3]``; fewer operations than rounds gives one round per operation.
    Raises ValueError for a negative total or fewer than one round.
    """

    if total < 0 or rounds < 1:
        raise ValueError(f"cannot split {total} operations into {rounds} rounds")
    rounds = min(rounds, total) or 1
    base, extra = divmod(total, rounds)
    sizes = [base + (1 if i < extra else 0) for i in range(rounds)]
    return [s for s in sizes if s > 0]


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"10000,100000"`` → ``(10000, 100000)``: positive integers, ascending, no repeats; ``_`` allowed as in ``10_000``.

    Raises ValueError naming the bad part.
    """

    sizes: set[int] = set()
    for part in text.split(","):
        part = part.strip().replace("_", "")
        if not part.isdigit() or int(part) < 1:
            raise ValueError(f"not a positive whole number: {part!r}")
        sizes.add(int(part))
    return tuple(sorted(sizes))
