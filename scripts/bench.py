#!/usr/bin/env python3
"""The project side by side with raw Formance: the same transactions, the same server, one run.

Not a test: it prints figures. Each side gets a fresh ledger in a bucket of
its own on one server (``--ledger-url``, else the local stack, started if
need be), both with the chart applied as schema (the project by
``program.init()``, the raw side by replaying the very schema request init
sent), so both pay the same schema enforcement.

How the raw side posts "the same": every request the project sends is seen
on the wire (``loyalty_accounts.testing.bench_wire.Recorder`` wraps
httpx's transports: it counts requests, whatever client the project uses).
The raw side replays, with plain httpx, exactly the transaction posts the
server accepted from the project (body bytes, query with schemaVersion,
Idempotency-Key), one request each, into its own ledger; the project's reads,
conflicts and retries are not replayed. Rounds alternate project, raw,
project, raw... so drift in the machine's load hits both alike.

Scenarios: single earns one at a time; redeems one at a time; earns on 8
threads over distinct customers and over one customer (raw: each thread
replays what the project's thread of the same rank posted, in order; the
sequence guard in the project's scripts then refuses some raw posts on one
customer: counted as "refused", each still a full round trip); import of an
order file (``program.import_orders``; in a child process for its peak
memory) against raw replays of its accepted bulk requests with as many in
flight as the import had posts in flight (its reads beside them are not
replayed), in the order project, raw, raw, project, each on a fresh ledger; the liability report at each ``--accounts`` size
on one ledger seeded by raw bulk posts of clones of a project earn (raw:
the same GET requests the report sent, JSON-decoded); with
``--compare-servers``, raw sequential earns on two fresh local servers,
Formance's default serve settings against the project's tuned ones.

Exit codes: 0 done, 2 bad arguments, 3 the ledger is unreachable.

    scripts/bench.py --ledger-url http://127.0.0.1:3068 --quick
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from loyalty_accounts.app import App, create_app  # noqa: E402
from loyalty_accounts.errors import LoyaltyError  # noqa: E402
from loyalty_accounts.operations import AdjustCommand, EarnCommand  # noqa: E402
from loyalty_accounts.program import LoyaltyProgram  # noqa: E402
from loyalty_accounts.testing import bench_figures as figures  # noqa: E402
from loyalty_accounts.testing import bench_workload as workload  # noqa: E402
from loyalty_accounts.testing.bench_figures import Row, Side  # noqa: E402
from loyalty_accounts.testing.bench_import import read_posts, run_import_child  # noqa: E402
from loyalty_accounts.testing.bench_liability import scenario_liability  # noqa: E402
from loyalty_accounts.testing.bench_raw import RawLedger, Replay  # noqa: E402
from loyalty_accounts.testing.bench_rounds import load as _load  # noqa: E402
from loyalty_accounts.testing.bench_rounds import log, project_round, raw_round  # noqa: E402
from loyalty_accounts.testing.bench_wire import Recorder, Sent  # noqa: E402


class Pair:
    """The project's ledger and the raw side's, created side by side, and everything the raw one was sent."""

    def __init__(self, url: str, tag: str, recorder: Recorder) -> None:
        self.recorder = recorder
        self.name = f"bench-{tag}-{uuid.uuid4().hex[:6]}"
        self.app: App = create_app(ledger_url=url, ledger_name=self.name)
        self.setup_raw = RawLedger(url, self.name)  # creates the project's ledger in a bucket of its own
        self.raw = RawLedger(url, f"{self.name}-raw")
        for client in (self.setup_raw, self.raw):
            recorder.ignore(client.transport)
        self.setup_raw.create(log=log)
        recorder.reset()
        self.app.program.init()
        schema = [s for s in recorder.sent if s.method == "POST" and "/schemas/" in s.path]
        self.raw.create(log=log)
        self.raw.replay_all(schema, Replay())
        self.schema_posts = schema
        self.warm_posts: list[Sent] = []
        self.earn_posts: list[Sent] = []
        self.schema_version = self.app.program.schema_version

    def untimed(self, action: Callable[[], object]) -> None:
        """Run ``action`` on the project, then replay what it posted on the raw side, neither timed."""

        self.recorder.reset()
        action()
        posts = self.recorder.accepted_posts()
        self.warm_posts.extend(posts)
        self.raw.replay_all(posts, Replay())

    def close(self) -> None:
        self.app.close()
        self.setup_raw.close()
        self.raw.close()


def _sequential(
    pair: Pair, scenario: str, batches: Sequence[Sequence[Any]], run: Callable[[Any], object], keep: list[Sent] | None = None
) -> Row:
    """Rounds of commands one at a time: project round, raw replay of it, next round."""

    start = _load()
    project: Side | None = None
    raw: Side | None = None
    for batch in batches:

        def action(batch: Sequence[Any] = batch) -> int:
            refused = 0
            for command in batch:
                try:
                    run(command)
                except LoyaltyError:
                    refused += 1
            return refused

        mine, posts = project_round(pair.recorder, action)
        mine = mine.model_copy(update={"ops": len(batch)})
        if keep is not None:
            keep.extend(posts)
        theirs = raw_round(lambda done, posts=posts: pair.raw.replay_all(posts, done))
        project = mine if project is None else project.plus(mine)
        raw = theirs if raw is None else raw.plus(theirs)
    return Row(scenario=scenario, project=project, raw=raw, load_start=start, load_end=_load())


def _threaded(pair: Pair, scenario: str, lanes_per_round: Sequence[Sequence[Sequence[EarnCommand]]]) -> Row:
    """Rounds of earns on one thread per lane; raw: each lane's accepted posts replayed on a thread of its own."""

    start = _load()
    project: Side | None = None
    raw: Side | None = None
    program = pair.app.program
    for lanes in lanes_per_round:

        def lane(commands: Sequence[EarnCommand]) -> int:
            refused = 0
            for command in commands:
                try:
                    program.earn(command)
                except LoyaltyError:
                    refused += 1
            return refused

        def action(lanes: Sequence[Sequence[EarnCommand]] = lanes) -> int:
            with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
                return sum(pool.map(lane, lanes))

        mine, posts = project_round(pair.recorder, action)
        mine = mine.model_copy(update={"ops": sum(len(lane) for lane in lanes)})
        by_thread: dict[int, list[Sent]] = {}
        for sent in posts:
            by_thread.setdefault(sent.thread, []).append(sent)
        theirs = raw_round(lambda done: pair.raw.replay_threads(list(by_thread.values()), done))
        project = mine if project is None else project.plus(mine)
        raw = theirs if raw is None else raw.plus(theirs)
    note = ""
    if raw is not None and raw.refused:
        note = f"raw: {raw.refused} of {raw.ops} replayed posts refused (their sequence guard, replayed out of order), counted as ops"
    if project is not None and project.refused:
        note += f"{'; ' if note else ''}project: {project.refused} refused"
    return Row(scenario=scenario, project=project, raw=raw, load_start=start, load_end=_load(), note=note)


def _chunks(items: Sequence[Any], rounds: int) -> list[Sequence[Any]]:
    out, at = [], 0
    for size in figures.split_rounds(len(items), rounds):
        out.append(items[at : at + size])
        at += size
    return out


PHASE = timedelta(seconds=10)
"""Between the first instants of two phases of the earn scenarios (see scenario_earns)."""


def scenario_earns(pair: Pair, args: argparse.Namespace, now: datetime) -> list[Row]:
    program = pair.app.program
    customers = workload.customer_ids("s", args.customers)
    # Warm-up, untimed: every customer's first earn (it opens their sequence counter), then credits for redeems.
    # Each phase is dated after the one before, each command after the one before it, as live ones are.
    warm = workload.earn_commands("w", len(customers), customers, now, seed=args.seed)
    pair.untimed(lambda: [program.earn(c) for c in warm])
    credits = [
        AdjustCommand(customer=c, adjustment_id=f"cr-{c}", direction="credit", points=10_000, reason="goodwill", at=now + PHASE)
        for c in customers
    ]
    pair.untimed(lambda: [program.adjust(c) for c in credits])
    rows = []
    earns = workload.earn_commands("e", args.earns, customers, now + 2 * PHASE, seed=args.seed)
    rows.append(_sequential(pair, "single earn", _chunks(earns, args.rounds), program.earn, pair.earn_posts))
    redeems = workload.redeem_commands("d", args.redeems, customers, now + 3 * PHASE)
    rows.append(_sequential(pair, "redeem", _chunks(redeems, args.rounds), program.redeem))
    for phase, (label, pool) in enumerate((("distinct customers", None), ("one customer", [customers[0]])), start=4):
        total = args.threaded
        sizes = figures.split_rounds(total, args.rounds)
        rounds = []
        for r, size in enumerate(sizes):
            lanes = []
            for t in range(args.threads):
                own = pool if pool else (customers[t :: args.threads] or customers[:1])
                n = size // args.threads + (1 if t < size % args.threads else 0)
                start = now + phase * PHASE + r * PHASE / len(sizes) + t * workload.STEP / args.threads
                lanes.append(workload.earn_commands(f"p{label[0]}{r}t{t}", n, own, start, seed=args.seed + t))
            rounds.append([lane for lane in lanes if lane])
        rows.append(_threaded(pair, f"earns, {args.threads} threads, {label}", rounds))
    return rows


def scenario_import(url: str, args: argparse.Namespace, recorder: Recorder, now: datetime) -> Row:
    scenario = f"import {args.orders:,} orders"
    if not hasattr(LoyaltyProgram, "import_orders"):
        return Row(scenario=scenario, skipped="LoyaltyProgram.import_orders does not exist yet on this checkout")
    # Rounds in the order project, raw, raw, project (with --rounds of 2 or more), so that a drift of the
    # machine's speed, or a server warming up, weighs on both sides alike; each round has a fresh ledger.
    rounds = 2 if args.rounds >= 2 else 1
    pairs = [Pair(url, "imp", recorder) for _ in range(rounds)]
    start = _load()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        orders = Path(folder) / "orders.csv"
        # One order a second, the last ten minutes ago: every order is in the past, whatever the file's size.
        first = now - timedelta(seconds=args.orders) - timedelta(minutes=10)
        rows = workload.order_rows(args.orders, prefix="i", customers=max(1, args.orders // 5), start=first, seed=args.seed)
        workload.write_orders_csv(orders, rows)
        posts_file = Path(folder) / "posts.bin"
        results: list[dict[str, Any]] = []
        sides: list[Side] = []
        raws: list[Side] = []
        for position, pair in enumerate(pairs):
            if position == 1:
                raws.append(_replay_import(pair, posts_file, results[0]))
            result = _import_child(url, pair, orders, posts_file if position == 0 else Path(folder) / "again.bin", args)
            if "error" in result or result.get("invalid"):
                for each in pairs:
                    each.close()
                why = result.get("error") or f"{result['invalid']} invalid rows, nothing posted"
                return Row(scenario=scenario, skipped=f"the import failed: {why}", load_start=start, load_end=_load())
            results.append(result)
            sides.append(
                Side(
                    ops=result["posted"] + result["replayed"] + result["refused"] + result["nothing"],
                    wall_s=result["wall_s"],
                    cpu_s=result["cpu_s"],
                    requests=result["requests"],
                    refused=result["refused"],
                    peak_rss_kib=result["rss_growth_kib"],
                )
            )
            if position == 0:
                raws.append(_replay_import(pair, posts_file, result))
    for pair in pairs:
        pair.close()
    project, raw = sides[0], raws[0]
    for more in sides[1:]:
        project = project.plus(more)
    for more in raws[1:]:
        raw = raw.plus(more)
    result = results[0]
    lanes = max(1, int(result["peak_posts_in_flight"]))
    # Each round's own rate, in the order run: a server slowing down (or speeding up) shows here.
    ran = [("project", sides[0]), *(("raw", each) for each in raws), *(("project", each) for each in sides[1:])]
    rates = ", ".join(f"{label} {side.ops_per_s:.1f}" for label, side in ran if side.ops_per_s is not None)
    note = (
        f"{len(sides)} project and {len(raws)} raw rounds (orders/s in the order run: {rates}); first project round: "
        f"{result['posted']} posted, {result['nothing']} earned nothing, {result['refused']} refused; "
        f"{result['requests']} requests {result['counts']}; peak in flight {result['peak_in_flight']} ({lanes} posts); "
        f"peak RSS {max(r['rss_peak_kib'] for r in results) // 1024} MiB"
    )
    return Row(scenario=scenario, project=project, raw=raw, load_start=start, load_end=_load(), note=note)


def _import_child(url: str, pair: Pair, orders: Path, posts_file: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The project's import of ``orders`` into ``pair``'s ledger, in a child process (its own peak memory)."""

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=run_import_child, args=(url, pair.name, str(orders), str(posts_file), args.chunk_size, send)
    )
    log(f"importing {args.orders} orders (child process) into {pair.name}")
    child.start()
    send.close()
    result: dict[str, Any] = receive.recv()
    child.join()
    return result


def _replay_import(pair: Pair, posts_file: Path, result: dict[str, Any]) -> Side:
    """The raw replay of the import's accepted posts into ``pair``'s raw ledger, timed, counted in orders.

    As many posts side by side as the import had posts in flight (its reads
    running beside a post are its own overhead hidden, not extra posting lanes).
    """

    lanes = max(1, int(result["peak_posts_in_flight"]))
    log(f"raw: replaying the import's accepted posts into {pair.raw.ledger}, {lanes} in flight")

    def replay(done: Replay) -> None:
        posts = list(read_posts(posts_file))
        pair.raw.replay_threads([posts[i::lanes] for i in range(lanes)], done)

    raw = raw_round(replay)
    # Per order, as the project's side: the replayed bulks also carry the controls opened for new
    # customers (one element each), which are part of earning the file, not operations of their own.
    orders = result["posted"] + result["replayed"] + result["refused"] + result["nothing"]
    return raw.model_copy(update={"ops": orders})


def scenario_servers(args: argparse.Namespace, posts: Sequence[Sent], warm: Sequence[Sent], schema: Sequence[Sent]) -> Row:
    """Raw sequential earns on a fresh local server with Formance's default serve settings, then the tuned one."""

    scenario = "raw sequential earns: Formance defaults vs tuned local server"
    import inspect

    import loyalty_accounts.local as local

    start_stack = getattr(local, "start_stack", None)
    if start_stack is None:
        return Row(scenario=scenario, skipped="loyalty_accounts.local.start_stack is not on this checkout yet")
    params = inspect.signature(start_stack).parameters
    if "tuned" not in params:
        return Row(scenario=scenario, skipped=f"start_stack{inspect.signature(start_stack)} takes no `tuned` flag")
    sides: dict[bool, Side] = {}
    load_start = _load()
    for tuned in (False, True):
        state = Path(tempfile.mkdtemp(prefix=f"bench-stack-{'tuned' if tuned else 'default'}-"))
        status = start_stack(state, tuned=tuned)
        url = str(getattr(status, "url", status))
        try:
            raw = RawLedger(url, f"bench-srv-{uuid.uuid4().hex[:6]}")
            raw.create(bucket=None if tuned else "", log=log)  # today's default set-up: the _default bucket
            raw.replay_all([*schema, *warm], Replay())
            sides[tuned] = raw_round(lambda done: raw.replay_all(posts, done))
            raw.close()
        finally:
            local.LocalStack(state).destroy()
    return Row(
        scenario=scenario,
        project=sides[True],
        raw=sides[False],
        load_start=load_start,
        load_end=_load(),
        note="here 'project' = raw posts on the tuned server (own bucket), 'raw' = Formance defaults (_default bucket)",
    )


QUICK = {"earns": 30, "redeems": 20, "threaded": 48, "orders": 300, "accounts": "1000", "customers": 16, "rounds": 2}


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ledger-url", default=os.environ.get("LOYALTY_LEDGER_URL"), help="Formance Ledger URL (default: LOYALTY_LEDGER_URL, else the local stack, started if need be).")
    parser.add_argument("--earns", type=int, default=300, help="Sequential single earns (default 300).")
    parser.add_argument("--redeems", type=int, default=200, help="Sequential redeems (default 200).")
    parser.add_argument("--threads", type=int, default=8, help="Threads of the concurrent earns (default 8).")
    parser.add_argument("--threaded", type=int, default=400, help="Earns in each threaded scenario (default 400).")
    parser.add_argument("--customers", type=int, default=64, help="Customers of the earn and redeem scenarios (default 64).")
    parser.add_argument("--orders", type=int, default=10_000, help="Orders in the import file (default 10,000).")
    parser.add_argument("--chunk-size", type=int, default=None, help="Chunk size passed to import_orders (default: the project's).")
    parser.add_argument("--accounts", default="10000,100000", help="Liability report sizes, in accounts (default 10000,100000).")
    parser.add_argument("--liability-ledger", default=None, help="Measure the liability report on this existing ledger instead of seeding one per --accounts size.")
    parser.add_argument("--max-accounts", type=int, default=None, help="Skip liability sizes above this (small machines).")
    parser.add_argument("--rounds", type=int, default=4, help="Alternating project/raw rounds per scenario (default 4).")
    parser.add_argument("--seed", type=int, default=1, help="Random seed of amounts and order files.")
    parser.add_argument("--only", default=None, help="Comma-separated scenarios to run: earns,import,liability,servers.")
    parser.add_argument("--compare-servers", action="store_true", help="Also start two local servers: Formance's default serve settings vs the tuned ones.")
    parser.add_argument("--quick", action="store_true", help="A smoke run: " + ", ".join(f"{k}={v}" for k, v in QUICK.items()) + ".")
    parser.add_argument("--json", metavar="FILE", default=None, help="Also write the figures as JSON to FILE ('-': stdout, instead of the tables).")
    args = parser.parse_args(argv)
    if args.quick:
        defaults = {action.dest: action.default for action in parser._actions}
        for key, value in QUICK.items():
            if getattr(args, key) == defaults[key]:
                setattr(args, key, value)
    try:
        args.accounts = figures.parse_sizes(str(args.accounts))
    except ValueError as exc:
        parser.error(f"--accounts: {exc}")
    counts = ("earns", "redeems", "threads", "threaded", "customers", "orders", "rounds")
    if any(getattr(args, name) < 1 for name in counts) or (args.chunk_size is not None and args.chunk_size < 1):
        parser.error("--" + "/--".join(counts) + " and --chunk-size must be positive")
    if args.customers < args.threads:
        parser.error("--customers must be at least --threads (each thread earns on customers of its own)")
    wanted = {"earns", "import", "liability", "servers"}
    args.only = set(args.only.split(",")) if args.only else wanted
    if not args.only <= wanted:
        parser.error(f"--only: unknown scenario(s) {', '.join(sorted(args.only - wanted))}")
    return args


def _server(args: argparse.Namespace) -> tuple[str, str]:
    """The ledger URL and its version; SystemExit(3) when none answers."""

    url = args.ledger_url
    if not url:
        from loyalty_accounts.local import LocalStack

        try:
            url = LocalStack(log=log).up().url
        except LoyaltyError as exc:
            log(f"error: no ledger URL given and the local stack did not start: {exc.message}")
            raise SystemExit(3) from None
    try:
        response = httpx.get(f"{str(url).rstrip('/')}/_/info", timeout=5.0)
        response.raise_for_status()
        return str(url).rstrip("/"), str(response.json().get("version"))
    except (httpx.HTTPError, ValueError) as exc:
        log(f"error: the ledger at {url} is unreachable: {exc}")
        raise SystemExit(3) from None


def _print(rows: Sequence[Row], title: str) -> None:
    table = Table(title=title)
    for i, header in enumerate(figures.HEADERS):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*figures.table_cells(row))
    Console(width=200).print(table)
    for row in rows:
        if row.skipped:
            print(f"- {row.scenario}: skipped: {row.skipped}")
        elif row.note:
            print(f"- {row.scenario}: {row.note}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        url, version = _server(args)
    except SystemExit as exc:
        return int(exc.code or 3)
    now = datetime.now(timezone.utc).replace(microsecond=0) - 8 * PHASE
    log(f"Formance Ledger {version} at {url}; load average {_load()}")
    rows: list[Row] = []
    try:
        with Recorder() as recorder:
            pair: Pair | None = None
            if "earns" in args.only or "servers" in args.only:
                pair = Pair(url, "ops", recorder)
                rows.extend(scenario_earns(pair, args, now))
            if "import" in args.only:
                rows.append(scenario_import(url, args, recorder, now))
            if "liability" in args.only:
                rows.extend(scenario_liability(url, args, recorder, now, existing=args.liability_ledger))
        if "servers" in args.only and pair is not None:
            if args.compare_servers:
                rows.append(scenario_servers(args, pair.earn_posts, pair.warm_posts, pair.schema_posts))
            else:
                rows.append(Row(scenario="raw sequential earns: defaults vs tuned server", skipped="run with --compare-servers"))
        if pair is not None:
            pair.close()
    except httpx.TransportError as exc:
        log(f"error: the ledger at {url} became unreachable: {exc}")
        return 3
    context = {"server": url, "version": version, "started": now.isoformat(), "arguments": {k: (sorted(v) if isinstance(v, (set, tuple)) else v) for k, v in vars(args).items()}}
    if args.json:
        text = json.dumps(figures.to_json(rows, **context), indent=2, default=str)
        if args.json == "-":
            print(text)
            return 0
        Path(args.json).write_text(text)
    _print(rows, f"project vs raw Formance {version} at {url} (project÷raw: throughput ratio; 1.00 = as fast as raw)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
