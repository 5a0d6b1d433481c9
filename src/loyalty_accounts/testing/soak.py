"""A soak run: seeded operations from concurrent workers, through the fault proxy, judged by the model.

:func:`run` creates a fresh ledger named after the seed with the repository's
chart and rules (``program.init()``, talking to the server directly),
generates the operations (:func:`.workload.generate`), starts a
:class:`~.proxy.FaultProxy` in front of the server and ``workers`` threads,
each with its own :func:`~loyalty_accounts.app.create_app` whose client talks
through the proxy with a short timeout and retry budget. The workers take the
operations in order from one shared list and record how each call ended
(:class:`~.judge.Outcome`). Then the whole history is read back from the
server directly (with each transaction's ``insertedAt``) and judged
(:func:`.judge.judge`).

:func:`shrink` looks for the shortest failing prefix of a failing seed by
bisection, each attempt on a fresh ledger (concurrency makes a failure not
always come back, so the prefix found is a good start, not a proof);
:func:`reproduction` prints it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Sequence

import httpx

from ..app import create_app
from ..operations import VoidCommand
from ..program import LoyaltyProgram
from .book import Entry, Leg
from .judge import Outcome, Posted, Verdict, error_kind, judge
from .proxy import FaultProxy
from .workload import Op, generate

__all__ = ["SoakConfig", "SoakReport", "run", "shrink", "reproduction", "read_history", "read_balances"]


@dataclass(frozen=True)
class SoakConfig:
    """One soak run: ``operations`` drawn with ``seed`` over ``customers``, run by ``workers`` against ``url``.

    The proxy drops ``drop`` and delays ``delay`` of the answers (by ``delay_s``
    seconds, past the client's ``timeout`` seconds); the client retries within
    ``retry_budget`` seconds. ``base`` is the "now" the instants are drawn
    around (default: when the run starts).
    """

    url: str
    operations: int
    workers: int = 4
    seed: int = 1
    customers: int = 6
    drop: float = 0.05
    delay: float = 0.03
    timeout: float = 2.0
    delay_s: float = 2.5
    retry_budget: float = 3.0
    base: datetime | None = None


@dataclass
class SoakReport:
    """What a run did and what judging found."""

    config: SoakConfig
    ledger: str
    base: datetime
    ops: list[Op]
    outcomes: dict[int, Outcome]
    verdict: Verdict
    faults: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.verdict.violations


def _call(program: LoyaltyProgram, op: Op) -> tuple[str, tuple[int, ...], str]:
    """Run ``op``; (outcome kind, transaction ids, note)."""

    if op.command is None:
        assert op.as_of is not None
        batch = (program.release if op.kind == "release" else program.expire)(op.as_of)
        ids = tuple(tx.id for result in batch.results for tx in result.transactions)
        return "posted", ids, f"{len(ids)} transactions"
    command = op.command
    if isinstance(command, VoidCommand):
        result = program.void(command.customer, command.hold_id)
    elif command.operation == "engage":
        c: Any = command
        result = program.engage(c.customer, c.event, c.key, c.at)
    else:
        result = getattr(program, command.operation)(command)
    ids = tuple(tx.id for tx in result.transactions)
    if result.replayed:
        return "replayed", ids, ""
    return ("posted" if ids else "nothing"), ids, result.note or ""


def _worker(config: SoakConfig, url: str, ledger: str, ops: Sequence[Op], next_op: Callable[[], int | None],
            outcomes: dict[int, Outcome]) -> None:
    app = create_app(ledger_url=url, ledger_name=ledger, ledger_timeout=config.timeout,
                     ledger_retry_budget=config.retry_budget)
    try:
        program = app.program
        while (index := next_op()) is not None:
            start = datetime.now(timezone.utc)
            op = ops[index].dated_now(start)
            try:
                kind, ids, note = _call(program, op)
                outcome = Outcome(kind, start, datetime.now(timezone.utc), tx_ids=ids, message=note, op=op)
            except Exception as exc:  # every answer is judged, a crash included
                kind, error = error_kind(exc)
                outcome = Outcome(kind, start, datetime.now(timezone.utc), error=error, message=str(exc)[:300], op=op)
            outcomes[index] = outcome
    finally:
        app.close()


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _pages(url: str, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    with httpx.Client(base_url=url, timeout=60) as http:
        query: dict[str, Any] = dict(params)
        while True:
            response = http.get(path, params=query)
            response.raise_for_status()
            cursor = response.json()["cursor"]
            items.extend(cursor["data"])
            if not cursor.get("hasMore"):
                return items
            query = {"cursor": cursor["next"]}


def read_history(url: str, ledger: str) -> list[Posted]:
    """Every transaction of ``ledger`` with its ``insertedAt``, read straight from the server (v2 list endpoint)."""

    out = []
    for tx in _pages(url, f"/v2/{ledger}/transactions", {"pageSize": 1000}):
        legs = tuple(Leg(p["source"], p["destination"], p["asset"], int(p["amount"])) for p in tx["postings"])
        entry = Entry(int(tx["id"]), _instant(tx["timestamp"]), legs, dict(tx.get("metadata") or {}), tx.get("reference") or None)
        out.append(Posted(entry, _instant(tx["insertedAt"]), bool(tx.get("reverted"))))
    return out


def read_balances(url: str, ledger: str) -> dict[tuple[str, str], int]:
    """Every account's balance per asset, read straight from the server."""

    out: dict[tuple[str, str], int] = {}
    for account in _pages(url, f"/v2/{ledger}/accounts", {"pageSize": 1000, "expand": "volumes"}):
        for asset, volume in (account.get("volumes") or {}).items():
            out[(account["address"], asset)] = int(volume["balance"])
    return out


def run(config: SoakConfig, *, ops: Sequence[Op] | None = None) -> SoakReport:
    """Run ``ops`` (default: generated from the config) on a fresh ledger and judge them."""

    base = config.base or datetime.now(timezone.utc)
    ops = list(ops) if ops is not None else generate(config.seed, config.operations, base=base, customers=config.customers)
    ledger = f"soak{config.seed}x{uuid.uuid4().hex[:8]}"
    with create_app(ledger_url=config.url, ledger_name=ledger) as direct:
        direct.program.init()
        chart, rules = direct.chart, direct.rules
    outcomes: dict[int, Outcome] = {}
    lock = threading.Lock()
    cursor = iter(range(len(ops)))

    def next_op() -> int | None:
        with lock:
            return next(cursor, None)

    logging.getLogger("loyalty_accounts.ledger").setLevel(logging.ERROR)  # the proxy's faults make retries routine
    began = time.monotonic()
    with FaultProxy(config.url, seed=config.seed, drop=config.drop, delay=config.delay, delay_s=config.delay_s) as proxy:
        threads = [threading.Thread(target=_worker, args=(config, proxy.url, ledger, ops, next_op, outcomes), daemon=True)
                   for _ in range(config.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        time.sleep(config.delay_s)  # let delayed answers finish before the history is read
        faults, requests = dict(proxy.faults), proxy.requests
    seconds = time.monotonic() - began
    small: dict[str, Decimal] = {}
    for index, outcome in outcomes.items():
        command: Any = ops[index].command
        if outcome.kind == "nothing" and command is not None and command.operation == "refund":
            small[command.order_id] = small.get(command.order_id, Decimal(0)) + command.amount.amount
    verdict = judge(ops, outcomes, read_history(config.url, ledger), chart=chart, rules=rules,
                    ledger_balances=read_balances(config.url, ledger), small_refunds=small)
    return SoakReport(config, ledger, base, list(ops), outcomes, verdict, faults, requests, seconds)


def shrink(report: SoakReport, *, attempts: int = 8) -> tuple[int, SoakReport]:
    """The shortest prefix of ``report``'s operations found failing by bisection (each try on a fresh ledger)."""

    failing, best = len(report.ops), report
    first = report.verdict.first_failing_op
    low = 0 if first is None else first  # a prefix must hold the first op blamed
    high = len(report.ops)
    for _ in range(attempts):
        if high - low <= 1:
            break
        middle = (low + high + 1) // 2
        attempt = run(report.config, ops=report.ops[:middle])
        if attempt.ok:
            low = middle
        else:
            high, failing, best = middle, middle, attempt
    return failing, best


def reproduction(report: SoakReport, prefix: int, *, lines: int = 80) -> str:
    """How to see the failure again: the seed, the base instant, the prefix and its operations, the violations."""

    cfg = report.config
    out = [
        f"seed {cfg.seed}, base {report.base.isoformat()}, {cfg.workers} workers: fails within the first {prefix} operations",
        f"  rerun: scripts/soak.py --seed {cfg.seed} --operations {prefix} --workers {cfg.workers} --base {report.base.isoformat()}",
        "violations:",
        *(f"  [{kind}] {'#' + str(i) + ' ' if i is not None else ''}{text}" for kind, i, text in report.verdict.violations[:lines]),
        "operations:",
    ]
    for generated in report.ops[:prefix][-lines:]:
        outcome = report.outcomes.get(generated.index)
        op = outcome.op if outcome is not None and outcome.op is not None else generated
        answer = "" if outcome is None else f" -> {outcome.kind}{':' + outcome.error if outcome.error else ''}"
        out.append(f"  {op.describe()}{answer}")
    return "\n".join(out)
