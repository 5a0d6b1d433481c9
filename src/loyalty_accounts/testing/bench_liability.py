"""The benchmark's liability scenario: the project's liability report beside a replay of its reads.

A ledger is seeded with clones of one project earn (one new customer each,
each dated one microsecond after the one before) up to each size asked; or,
with ``existing``, a ledger already holding the accounts (e.g. one a history
benchmark filled) is measured as it is.
"""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import datetime, timedelta

from ..app import App, create_app
from . import bench_workload as workload
from .bench_figures import Row, Side
from .bench_raw import RawLedger
from .bench_rounds import load, log, project_round, raw_round
from .bench_wire import Recorder

SEED_CHUNK = 100
"""Elements per seeding bulk request: the v2.4.12 default --bulk-max-size (cmd/serve.go); more is 413."""
TEMPLATE_CUSTOMER = "qqtplcustomerqq"
TEMPLATE_ORDER = "qqtplorderqq"


def scenario_liability(
    url: str, args: argparse.Namespace, recorder: Recorder, now: datetime, *, existing: str | None = None
) -> list[Row]:
    """The project's liability report against a replay of its reads: on a seeded ledger per size, or on ``existing``."""

    if existing is not None:
        ledger = RawLedger(url, existing)
        recorder.ignore(ledger.transport)
        app = create_app(ledger_url=url, ledger_name=existing)
        try:
            have = ledger.count_accounts() or 0
            log(f"measuring the liability report on {existing} ({have:,} accounts)")
            return [_measure(app, ledger, args, recorder, f"liability, {have:,} accounts ({existing})", have)]
        finally:
            app.close()
            ledger.close()
    sizes = [n for n in args.accounts if args.max_accounts is None or n <= args.max_accounts]
    skipped = [n for n in args.accounts if n not in sizes]
    rows = [Row(scenario=f"liability, {n:,} accounts", skipped=f"above --max-accounts {args.max_accounts}") for n in skipped]
    if not sizes:
        return rows
    ledger = RawLedger(url, f"bench-liab-{uuid.uuid4().hex[:6]}")
    recorder.ignore(ledger.transport)
    ledger.create(log=log)
    app = create_app(ledger_url=url, ledger_name=ledger.ledger)
    app.program.init()
    recorder.reset()
    app.program.earn(
        workload.earn_commands(TEMPLATE_ORDER, 1, [TEMPLATE_CUSTOMER], now, seed=args.seed)[0].model_copy(
            update={"order_id": TEMPLATE_ORDER}
        )
    )
    template = next(s for s in recorder.accepted_posts() if f'"earn:{TEMPLATE_ORDER}"'.encode() in s.content)
    schema_version = app.program.schema_version
    seeded_from = datetime.fromisoformat(json.loads(template.content)["timestamp"].replace("Z", "+00:00"))
    seeded = 0
    per_earn: float | None = None
    for target in sizes:
        have = ledger.count_accounts() or 0
        log(f"seeding the liability ledger to {target:,} accounts (has {have:,})")
        while have < target:
            missing = target - have
            batch = SEED_CHUNK if per_earn is None else max(1, min(SEED_CHUNK, int(missing / per_earn) + 1))
            posts = [
                workload.clone_post(template.content, {TEMPLATE_CUSTOMER: f"L{seeded + i:07d}", TEMPLATE_ORDER: f"Lo{seeded + i:07d}"})
                for i in range(batch)
            ]
            # Each clone one microsecond after the one before, so none is inserted before moves
            # already on the shared accounts (whose effective volumes v2.4.12 would then update).
            for i, post in enumerate(posts):
                post["timestamp"] = (seeded_from + timedelta(microseconds=seeded + i + 1)).isoformat().replace("+00:00", "Z")
            refused = ledger.bulk(workload.bulk_body(posts, key_prefix="seed"), schema_version=schema_version)
            if refused:
                log(f"  {refused} of {batch} seed earns refused")
            seeded += batch
            before, have = have, ledger.count_accounts() or 0
            per_earn = max(0.5, (have - before) / batch) if have > before else (per_earn or 1.0)
        rows.append(_measure(app, ledger, args, recorder, f"liability, {target:,} accounts", have))
    app.close()
    ledger.close()
    return rows


def _measure(app: App, ledger: RawLedger, args: argparse.Namespace, recorder: Recorder, scenario: str, have: int) -> Row:
    """Rounds of the project's report, each followed by the raw replay of the reads it made."""

    start = load()
    project: Side | None = None
    raw: Side | None = None
    for _ in range(args.rounds):
        mine, _posts = project_round(recorder, lambda: (app.reports.liability(None), 0)[1])
        reads = [s for s in recorder.sent if s.method in ("GET", "HEAD")]
        mine = mine.model_copy(update={"ops": 1})
        theirs = raw_round(lambda done, reads=reads: ledger.replay_all(reads, done)).model_copy(update={"ops": 1})
        project = mine if project is None else project.plus(mine)
        raw = theirs if raw is None else raw.plus(theirs)
    assert project is not None
    note = f"{have:,} accounts; {project.seconds_per_op:.2f} s per report (project)"
    return Row(scenario=scenario, project=project, raw=raw, load_start=start, load_end=load(), note=note)
