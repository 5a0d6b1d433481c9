#!/usr/bin/env python3
"""Client CPU of the project's earn and of single ledger requests, beside raw httpx, on a real server.

Not a test: it needs a running Formance Ledger v2.4.12 (``--ledger-url``, or
``LOYALTY_LEDGER_URL``) and creates a fresh ledger there in a bucket of its
own (a bucket shared with many ledgers makes every insert slower on the
server, which does not change client CPU but does make the run longer).

It prints, per earn and per request, the client CPU (``time.process_time``)
of:

1. ``N`` project earns (distinct customers and orders, dated now), with the
   number of HTTP requests each made;
2. the same create-transaction bodies posted with plain ``httpx`` (fresh
   references), the raw baseline;
3. single requests through :class:`LedgerClient` (post, get account, list a
   page of transactions, find by reference) against the same requests made
   with plain ``httpx``;

and, with ``--profile FILE``, the cProfile of the earns (``--top`` lines by
cumulative and by own time, and the pstats file for later reading).

    scripts/profile_client.py --ledger-url http://127.0.0.1:48365 --earns 200 --profile /tmp/earn.prof
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from loyalty_accounts.chart import load_chart  # noqa: E402
from loyalty_accounts.ledger import LedgerClient, LedgerConnection  # noqa: E402
from loyalty_accounts.numscript import Catalogue  # noqa: E402
from loyalty_accounts.operations import EarnCommand  # noqa: E402
from loyalty_accounts.program import LoyaltyProgram  # noqa: E402
from loyalty_accounts.rules import load_rules  # noqa: E402
from loyalty_accounts.testing.bench_wire import Recorder  # noqa: E402
from loyalty_accounts.types import TransactionPlan  # noqa: E402
from loyalty_accounts.vocabulary.amounts import Money  # noqa: E402


def create_ledger_in_own_bucket(url: str, ledger: str) -> None:
    """``POST /v2/{ledger}`` with a bucket of the ledger's own; a new bucket may need a retry on v2.4.12."""
    for attempt in range(6):
        response = httpx.post(f"{url}/v2/{ledger}", json={"bucket": ledger}, timeout=60)
        if response.status_code < 300:
            return
        if response.status_code < 500 or attempt == 5:
            raise SystemExit(f"cannot create ledger {ledger}: {response.status_code} {response.text[:200]}")
        time.sleep(6)


LEDGER_CALLS = (
    "post", "post_many", "revert", "add_transaction_metadata", "find_by_reference", "get_transaction",
    "transactions", "account", "accounts", "aggregate_balances", "volumes",
)
"""The LedgerClient methods an earn may call: their CPU is counted apart, and left out of the profile."""


def _outside(method: Callable[..., Any], spent: list[float], profiler: cProfile.Profile | None,
             profiling: list[bool]) -> Callable[..., Any]:
    """``method`` with its CPU added to ``spent[0]``, run with the profiler paused (lazy lists read eagerly)."""

    def run(*args: Any, **kwargs: Any) -> Any:
        if profiler is not None and profiling[0]:
            profiler.disable()
        began = time.process_time()
        try:
            result = method(*args, **kwargs)
            if isinstance(result, Iterator):
                result = iter(list(result))
            return result
        finally:
            spent[0] += time.process_time() - began
            if profiler is not None and profiling[0]:
                profiler.enable()

    return run


def in_process_overhead(count: int) -> list[tuple[str, float, float]]:
    """Client CPU (ms) per request with no network (``httpx.MockTransport``): (what, project, plain httpx).

    The same canned answers for both, so the difference is the project's own building and decoding.
    """
    tx = {
        "id": 1, "reference": "earn:o1", "timestamp": "2026-05-01T10:00:00Z", "insertedAt": "2026-05-01T10:00:00Z",
        "postings": [{"source": "world", "destination": f"a:{i}", "amount": 10, "asset": "PTS"} for i in range(5)],
        "metadata": {f"k{i}": f"v{i}" for i in range(25)}, "reverted": False,
    }
    account = {"address": "a:1", "metadata": {}, "effectiveVolumes": {"PTS": {"input": 10, "output": 3}}}
    answers = {
        "POST": json.dumps({"data": tx}).encode(),
        "account": json.dumps({"data": account}).encode(),
        "1": json.dumps({"cursor": {"pageSize": 1, "hasMore": False, "data": [tx]}}).encode(),
        "page": json.dumps({"cursor": {"pageSize": 100, "hasMore": False, "data": [tx] * 100}}).encode(),
    }

    def answer(request: httpx.Request) -> httpx.Response:
        # A page of 100 whatever size was asked for (the project asks for ledger.reads.PAGE_SIZE).
        size = request.url.params.get("pageSize")
        key = "account" if "/accounts/" in request.url.path else request.method if size is None else "1" if size == "1" else "page"
        return httpx.Response(200, content=answers[key], headers={"Content-Type": "application/json"})

    mock = httpx.MockTransport(answer)
    client = LedgerClient(LedgerConnection(url="http://ledger.test", ledger="l"), transport=mock)
    raw = httpx.Client(transport=mock)
    base = "http://ledger.test/v2/l"
    plan = TransactionPlan(operation="earn", template="t", script="send [PTS 1] (source = @world destination = @a)",
                           vars={}, reference="earn:o1", command_hash="h", metadata=tx["metadata"])
    body = {"metadata": plan.all_metadata(), "reference": "earn:o1", "script": {"plain": plan.script, "vars": {}}}
    listing = {"pageSize": "100", "reverse": "true"}
    pairs: list[tuple[str, Callable[[int], Any], Callable[[int], Any]]] = [
        ("post transaction", lambda i: client.post(plan),
         lambda i: raw.post(f"{base}/transactions", json=body, headers={"Idempotency-Key": "k"}).json()),
        ("get account", lambda i: client.account("a:1"),
         lambda i: raw.get(f"{base}/accounts/a:1", params={"expand": "effectiveVolumes"}).json()),
        ("find by reference", lambda i: client.find_by_reference("earn:o1"),
         lambda i: raw.request("GET", f"{base}/transactions", params={"pageSize": "1", "reverse": "true"},
                               json={"$match": {"reference": "earn:o1"}}).json()),
        ("list 100 transactions", lambda i: list(client.transactions(account="world")),
         lambda i: raw.request("GET", f"{base}/transactions", params=listing, json={"$match": {"account": "world"}}).json()),
    ]
    rows = []
    for what, ours, theirs in pairs:
        n = count if "100" not in what else max(1, count // 10)
        cpu_per_call(ours, 20), cpu_per_call(theirs, 20)  # warm up
        rows.append((what, cpu_per_call(ours, n), cpu_per_call(theirs, n)))
    client.close()
    raw.close()
    return rows


def cpu_per_call(run: Callable[[int], Any], count: int) -> float:
    """Mean client CPU (ms) of ``run(i)`` over ``count`` calls."""
    started = time.process_time()
    for i in range(count):
        run(i)
    return (time.process_time() - started) * 1000 / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ledger-url", default=os.environ.get("LOYALTY_LEDGER_URL", "http://127.0.0.1:3068"))
    parser.add_argument("--earns", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200, help="single requests per kind")
    parser.add_argument("--profile", type=Path, help="write the earns' cProfile here")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    url = args.ledger_url.rstrip("/")
    ledger = f"prof{uuid.uuid4().hex[:10]}"
    create_ledger_in_own_bucket(url, ledger)
    print(f"ledger {ledger} at {url} (own bucket)")

    chart = load_chart(ROOT / "chart_of_accounts.yaml")
    rules = load_rules(ROOT / "rules.yaml", chart=chart)
    client = LedgerClient(LedgerConnection(url=url, ledger=ledger))
    program = LoyaltyProgram(client, chart, Catalogue(ROOT / "numscript"), rules=rules)
    program.init()

    def earn(i: int, tag: str) -> None:
        program.earn(
            EarnCommand(
                customer=f"c{tag}{i}",
                order_id=f"o{tag}{i}",
                amount=Money(amount=Decimal("42.50"), currency="USD"),
                ordered_at=datetime.now(timezone.utc),
            )
        )

    for i in range(10):  # warm up: imports, templates, connection
        earn(i, "w")
    in_requests = [0.0]
    send = client._transport.send  # noqa: SLF001

    def timed_send(*a: Any, **k: Any) -> Any:
        began = time.process_time()
        try:
            return send(*a, **k)
        finally:
            in_requests[0] += time.process_time() - began

    client._transport.send = timed_send  # type: ignore[method-assign]  # noqa: SLF001
    in_client = [0.0]
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    profiling = [False]
    for name in LEDGER_CALLS:
        setattr(client, name, _outside(getattr(client, name), in_client, profiler, profiling))
    started = time.process_time()
    wall = time.perf_counter()
    with Recorder() as recorder:  # sees every request on the wire
        for i in range(args.earns):
            earn(i, "u")
    client._transport.send = send  # type: ignore[method-assign]  # noqa: SLF001
    requests = recorder.sent
    posted_bodies = [sent.content for sent in requests if sent.method == "POST"]
    schema_params = {k: v for sent in requests if sent.method == "POST" for k, v in httpx.QueryParams(sent.query.decode()).items() if k == "schemaVersion"}
    client_cpu = in_client[0] * 1000 / args.earns
    earn_cpu = (time.process_time() - started) * 1000 / args.earns
    earn_wall = (time.perf_counter() - wall) * 1000 / args.earns
    per_earn = len(requests) / args.earns
    kinds: dict[str, int] = {}
    for sent in requests:
        kinds[sent.kind] = kinds.get(sent.kind, 0) + 1
    profiled_cpu = 0.0
    if profiler:
        started = time.process_time()
        profiling[0] = True
        profiler.enable()
        for i in range(args.earns):
            earn(i, "p")
        profiler.disable()
        profiling[0] = False
        profiled_cpu = (time.process_time() - started) * 1000 / args.earns
    for name in LEDGER_CALLS:
        delattr(client, name)  # the plain methods again

    raw = httpx.Client(timeout=30)
    # The earn's own transaction (not a guard or counter posted beside it): replayable with a new reference.
    bodies = [b for b in map(json.loads, posted_bodies) if "qualifying" in b.get("script", {}).get("vars", {})]


    def raw_post(i: int) -> None:
        body = dict(bodies[i % len(bodies)])
        body["reference"] = f"raw:{i}:{uuid.uuid4().hex[:6]}"
        # The same script and size; the guard's step is 0 so the customer's sequence need not match.
        body["script"] = {"plain": body["script"]["plain"], "vars": {**body["script"]["vars"], "guard_step_0": "CTL 0"}}
        response = raw.post(f"{url}/v2/{ledger}/transactions", params=schema_params, json=body)
        if response.status_code != 200:
            raise SystemExit(f"raw post refused: {response.status_code} {response.text[:300]}")
        response.json()

    raw_cpu = cpu_per_call(raw_post, args.earns)
    print(f"project earn: client CPU {earn_cpu:.2f} ms/earn, wall {earn_wall:.1f} ms, {per_earn:.1f} requests/earn")
    print(f"  of which inside ledger requests (Transport.send, httpx included): {in_requests[0] * 1000 / args.earns:.2f} ms")
    print(f"  of which inside LedgerClient calls (requests, building, decoding): {client_cpu:.2f} ms")
    print(f"  outside the ledger adapter (operations, rules, services...): {earn_cpu - client_cpu:.2f} ms")
    if profiler:
        print(f"  under cProfile (ledger calls not profiled): client CPU {profiled_cpu:.2f} ms/earn")
    print("  requests: " + ", ".join(f"{k} x{v / args.earns:.1f}" for k, v in sorted(kinds.items())))
    print(f"raw httpx post of the same bodies: client CPU {raw_cpu:.2f} ms/post")

    # Single requests, project client against plain httpx.
    plan_body = bodies[0]
    plan = TransactionPlan(
        operation="earn",
        template="profile",
        script=plan_body["script"]["plain"],
        vars={**plan_body["script"]["vars"], "guard_step_0": "CTL 0"},
        reference="x",
        command_hash="profile",
        metadata={},
    )
    address = chart.tiers_qualifying()  # an account every earn moves (the server has no "world" account to read)
    n = args.requests
    pairs: list[tuple[str, Callable[[int], Any], Callable[[int], Any]]] = [
        (
            "post transaction",
            lambda i: client.post(
                plan.model_copy(update={"reference": f"pp:{i}:{uuid.uuid4().hex[:6]}"}),
                schema_version=schema_params.get("schemaVersion"),
            ),
            lambda i: raw_post(i + 10_000),
        ),
        (
            "get account",
            lambda i: client.account(address),
            lambda i: raw.get(f"{url}/v2/{ledger}/accounts/{address}", params={"expand": "effectiveVolumes"}).json(),
        ),
        (
            "find by reference",
            lambda i: client.find_by_reference(f"pp:{i}"),
            lambda i: raw.request(
                "GET",
                f"{url}/v2/{ledger}/transactions",
                params={"pageSize": 1, "reverse": "true"},
                json={"$match": {"reference": f"pp:{i}"}},
            ).json(),
        ),
        (
            "list 100 transactions",
            lambda i: list(itertools.islice(client.transactions(account=address), 100)),
            lambda i: raw.request(
                "GET",
                f"{url}/v2/{ledger}/transactions",
                params={"pageSize": 100, "reverse": "true"},
                json={"$match": {"account": address}},
            ).json(),
        ),
    ]
    print(f"single requests ({n} each, interleaved), client CPU ms/request: project | raw httpx | difference")
    for what, ours, theirs in pairs:
        count = n if what != "list 100 transactions" else max(1, n // 10)
        mine = base = 0.0
        for i in range(count):  # one of each in turn, so a change of load hits both alike
            mine += cpu_per_call(lambda _: ours(i), 1)
            base += cpu_per_call(lambda _: theirs(i), 1)
        mine, base = mine / count, base / count
        print(f"  {what:<22} {mine:6.3f} | {base:6.3f} | {mine - base:+.3f}")

    print(f"in process (MockTransport, no network; {n * 5} each), client CPU ms/request: project | raw httpx | difference")
    for what, mine, base in in_process_overhead(n * 5):
        print(f"  {what:<22} {mine:6.3f} | {base:6.3f} | {mine - base:+.3f}")

    if profiler and args.profile:
        profiler.dump_stats(str(args.profile))
        for order in ("cumulative", "tottime"):
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats(order).print_stats(r"loyalty_accounts|pydantic|typing|yaml|decimal|json|re", args.top)
            print(out.getvalue())
    client.close()
    raw.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
