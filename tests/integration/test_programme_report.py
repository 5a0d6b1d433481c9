"""``loyalty report programme`` on the real Formance Ledger: the demo year with every figure counted by hand, a
constructed history raising each anomaly flag, and a partner pool's window (its partners' pool figures, tied to the
ledger's volumes and balances and to the partner statements; pool redemptions counted by reward type).

The hand count does not use the code under test: it lists the ledger's raw transactions
(``GET /v2/{ledger}/transactions``, every page) and counts their postings by their addresses as text
(``program:points:issued:...``, ``customers:{id}:...``), with the tier ladder and the 365-day rolling window
copied from rules.yaml and evaluated by brute force (after every qualifying posting and at every midnight of
the window). Nothing of ``loyalty_accounts.reports`` is imported.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable

import pytest
import yaml
from support.programme import ROOT, T0, days, earn, programme
from typer.testing import CliRunner

from loyalty_accounts.cli import app
from loyalty_accounts.demo import run_demo
from loyalty_accounts.ledger import LedgerClient
from loyalty_accounts.operations import RedeemCommand, TransferCommand
from loyalty_accounts.operations.pool_contribute import PoolContributeCommand
from loyalty_accounts.operations.pool_earn import PoolEarnCommand
from loyalty_accounts.types import PostedTransaction

pytestmark = pytest.mark.integration

UTC = timezone.utc
START = datetime(2025, 9, 30, 23, 59, 59, 999999, tzinfo=UTC)  # --from 2025-10-01: the window starts with that day
END = datetime(2026, 10, 6, 23, 59, 59, 999999, tzinfo=UTC)  # --to 2026-10-06: through the end of that day
LADDER = ((20000, "gold"), (5000, "silver"), (0, "member"))  # rules.yaml tiers.ladder, highest first
WINDOW_DAYS = 365  # rules.yaml tiers.qualification
ISSUED = "program:points:issued:"


def cli(ledger_url: str, ledger_name: str, *args: str) -> str:
    result = CliRunner().invoke(app, ["--ledger-url", ledger_url, "--ledger", ledger_name, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def report(ledger_url: str, ledger_name: str, *window: str) -> dict[str, Any]:
    return json.loads(cli(ledger_url, ledger_name, "report", "programme", *window, "-f", "json"))


def member(address: str) -> str | None:
    parts = address.split(":")
    return parts[1] if parts[0] == "customers" else None


def points(tx: PostedTransaction) -> list[Any]:
    return [p for p in tx.postings if p.asset == "PTS"]


def into(tx: PostedTransaction, account: str) -> int:
    return sum(p.amount for p in points(tx) if p.destination == account) - sum(p.amount for p in points(tx) if p.source == account)


def by_reward_type(transactions: Iterable[PostedTransaction]) -> dict[str, list[int]]:
    """[redemptions, points] per ``reward_type`` metadata ("unspecified" without one): each transaction with
    points into ``program:points:redeemed``, and its net points into it."""

    rewards: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for tx in transactions:
        if any(p.destination == "program:points:redeemed" for p in points(tx)):
            kind = tx.metadata.get("reward_type") or "unspecified"
            rewards[kind][0] += 1
            rewards[kind][1] += into(tx, "program:points:redeemed")
    return dict(rewards)


def tier(qualifying: Iterable[tuple[datetime, date, int]], at: datetime) -> str:
    start = at - timedelta(days=WINDOW_DAYS)
    first = start.date() if start.time() == datetime.min.time() else start.date() + timedelta(days=1)
    total = sum(n for when, day, n in qualifying if when <= at and day >= first)
    return next(name for threshold, name in LADDER if total >= threshold)


def test_the_demo_years_analytics_agree_with_a_hand_count(client: LedgerClient, ledger_url: str, ledger_name: str) -> None:
    run_demo(programme(client))
    got = report(ledger_url, ledger_name, "--from", "2025-10-01", "--to", "2026-10-06")
    everything = list(client.transactions())
    window = [tx for tx in everything if START < tx.timestamp <= END]
    assert len(window) > 30 and any(tx.timestamp > END for tx in everything)  # the void is dated when the demo ran

    # daily flows: every day with a transaction moving points, each line by its accounts
    daily: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for tx in window:
        if not points(tx):
            continue
        row = daily[tx.timestamp.date().isoformat()]
        row["transactions"] += 1
        row["issued"] += sum(p.amount for p in points(tx) if p.source.startswith(ISSUED))
        row["reversed"] += sum(p.amount for p in points(tx) if p.destination.startswith(ISSUED))
        row["redeemed"] += into(tx, "program:points:redeemed")
        row["converted"] += into(tx, "program:points:converted")
        row["expired"] += into(tx, "program:points:expired")
        row["exchanged"] += into(tx, "partners:skyway:exchanged")
    lines = ("issued", "reversed", "redeemed", "converted", "exchanged", "expired", "transactions")
    assert {d["day"]: {k: d[k] for k in lines} for d in got["daily"]} == {day: {k: row[k] for k in lines} for day, row in daily.items()}
    assert got["totals"] == {k: sum(row[k] for row in daily.values()) for k in lines if k != "transactions"}
    # ...and the story's own sums (tests/unit/cli/test_demo_reports.py)
    assert (got["totals"]["issued"], got["totals"]["redeemed"], got["totals"]["expired"]) == (9354, 5420, 572)

    # active members: a posting of points on one of their accounts, other than an expiry or a release
    active = set()
    for tx in window:
        for p in points(tx):
            release = p.source.split(":")[2:3] == ["pending"] and p.destination.split(":")[2:3] == ["points"] and member(p.source) == member(p.destination)
            if p.destination == "program:points:expired" or release:
                continue
            active.update(m for m in (member(p.source), member(p.destination)) if m)
    assert got["active_members"] == len(active) == 4
    known = {m for tx in everything if tx.timestamp <= END for p in tx.postings for m in (member(p.source), member(p.destination)) if m}
    assert got["members_at_end"] == len(known)

    # redemption by reward type
    rewards = by_reward_type(window)
    assert {r["reward_type"]: [r["redemptions"], r["points"]] for r in got["rewards"]} == rewards == {"unspecified": [2, 5420]}

    # partners: skyway's accounts, and the points issued by the transactions that received its miles
    cents = lambda tx, sign: sum(p.amount for p in tx.postings if p.asset == "USD/2" and (p.destination if sign > 0 else p.source) == "partners:skyway:settlement")  # noqa: E731
    settle_in = sum(cents(tx, 1) for tx in window)
    settle_out = sum(cents(tx, -1) for tx in window)
    balance = sum(cents(tx, 1) - cents(tx, -1) for tx in everything if tx.timestamp <= END)
    received = [tx for tx in window if any(p.destination == "partners:skyway:received" for p in tx.postings)]
    chart_partners = lambda: yaml.safe_load((ROOT / "chart_of_accounts.yaml").read_text())["partners"]  # noqa: E731
    by_key = {p["partner"]: p for p in got["partners"]}
    assert sorted(by_key) == sorted(chart_partners())
    skyway = by_key["skyway"]
    for quiet in set(by_key) - {"skyway"}:  # the demo exchanges with skyway only
        assert (by_key[quiet]["points_out"], by_key[quiet]["points_in"]) == (0, 0)
    assert skyway["points_out"] == sum(into(tx, "partners:skyway:exchanged") for tx in window) == 180
    assert skyway["points_in"] == sum(p.amount for tx in received for p in points(tx) if p.source.startswith(ISSUED)) == 80
    assert skyway["units_delivered"] == sum(p.amount for tx in window for p in tx.postings if p.destination == "partners:skyway:delivered") == 60
    assert skyway["units_received"] == sum(p.amount for tx in received for p in tx.postings if p.destination == "partners:skyway:received") == 40
    assert (skyway["exchanges_out"], skyway["exchanges_in"]) == (1, len(received)) == (1, 1)
    assert (skyway["settlement_in"], skyway["settlement_out"]) == (f"{settle_in / 100:.2f}", f"{settle_out / 100:.2f}") == ("0.32", "0.75")
    assert skyway["settlement_net"] == f"{(settle_in - settle_out) / 100:.2f}" and skyway["balance_at_end"] == f"{balance / 100:.2f}"

    # tiers: brute force after each qualifying posting and at every midnight (+1 µs) of the window
    qualifying: dict[str, list[tuple[datetime, date, int]]] = defaultdict(list)
    for tx in everything:
        for p in tx.postings:
            for address, sign in ((p.destination, 1), (p.source, -1)):
                parts = address.split(":")
                if p.asset == "QPTS" and parts[0] == "customers" and parts[2] == "qualifying":
                    qualifying[parts[1]].append((tx.timestamp, datetime.strptime(parts[3], "%Y%m%d").date(), sign * p.amount))
    instants = sorted(
        {tx.timestamp for tx in window if any(p.asset == "QPTS" for p in tx.postings)}
        | {START + timedelta(days=n, microseconds=2) for n in range((END - START).days + 1)}
    )
    changes = []
    for who in sorted(known):
        before = tier(qualifying[who], START)
        for at in instants:
            now = tier(qualifying[who], at)
            if now != before:
                changes.append([who, before, now])
            before = now
    assert [[c["member"], c["from_tier"], c["to_tier"]] for c in sorted(got["tier_changes"], key=lambda c: (c["member"], c["at"]))] == changes
    assert len(changes) == 2  # carol: silver with C-3001, a member again when its day leaves the window
    upgrade, downgrade = sorted(got["tier_changes"], key=lambda c: c["at"])
    assert upgrade["transaction_id"] == client.find_by_reference("earn:C-3001").id and downgrade["transaction_id"] is None
    assert downgrade["at"] == "2026-10-03T00:00:00.000001+00:00"  # 2025-10-03 leaves the 365-day window
    distribution = defaultdict(int)
    for who in known:
        distribution[tier(qualifying[who], END)] += 1
    assert {t["tier"]: t["members"] for t in got["tiers"]} == {name: distribution[name] for _, name in LADDER}

    # expiring soon: bucket balances at the end, summed from the postings, by the expiry date in the address
    balances: dict[str, int] = defaultdict(int)
    for tx in everything:
        if tx.timestamp <= END:
            for p in points(tx):
                balances[p.destination] += p.amount
                balances[p.source] -= p.amount
    buckets = []
    for address, held in balances.items():
        parts = address.split(":")
        if parts[0] == "customers" and parts[2] in ("points", "pending") and held > 0 and parts[-1] != "noexpiry":
            buckets.append((parts[1], parts[2], datetime.strptime(parts[-1], "%Y%m%d").date(), held))
    for line in got["expiring"]:
        limit = END.date() + timedelta(days=line["within_days"])
        inside = [b for b in buckets if END.date() < b[2] <= limit]
        assert (line["points"], line["members"]) == (sum(b[3] for b in inside), len({b[0] for b in inside})), line
        assert line["pending"] == sum(b[3] for b in inside if b[1] == "pending")
    assert [line["within_days"] for line in got["expiring"]] == [30, 60, 90] and got["expiring"][-1]["points"] == 2752
    assert got["due_points"] == sum(b[3] for b in buckets if b[1] == "points" and b[2] <= END.date()) == 0

    # anomaly flags: the demo has one transfer (alice -> dave), which dave neither passes on nor redeems,
    # and nobody earns more than 5 times or redeems more than 3 times in any 24 hours
    transfers = [(tx, p) for tx in window for p in points(tx) if member(p.source) and member(p.destination) and member(p.source) != member(p.destination)]
    assert [(member(p.source), member(p.destination)) for _, p in transfers] == [("alice", "dave")]
    for who in known:
        earned = sorted(tx.timestamp for tx in window if any(p.source.startswith(ISSUED) and member(p.destination) == who for p in points(tx)))
        assert all(sum(1 for t in earned if s <= t <= s + timedelta(hours=24)) <= 5 for s in earned)
    assert got["flags"] == []


def test_each_anomaly_flag_names_its_transactions(client: LedgerClient, ledger_url: str, ledger_name: str) -> None:
    now = datetime.now(UTC)
    t = now.replace(microsecond=0) - timedelta(days=10)
    program = programme(client, pending_days=0)
    ids = lambda result, op: next(x.id for x in result.transactions if x.metadata.get("operation") == op)  # noqa: E731
    earns = [ids(program.earn(earn("m1", f"o-{i}", "20.00", t + timedelta(hours=i))), "earn") for i in range(6)]
    program.earn(earn("m2", "o-m2", "100.00", t))
    redeems = [ids(program.redeem(RedeemCommand(customer="m1", redemption_id=f"r-{i}", points=5, at=t + timedelta(hours=7 + i))), "redeem") for i in range(4)]
    first = ids(program.transfer(TransferCommand(customer="m2", to_customer="m3", transfer_id="t-1", points=40, at=t + timedelta(hours=12))), "transfer")
    second = ids(program.transfer(TransferCommand(customer="m3", to_customer="m4", transfer_id="t-2", points=10, at=t + timedelta(hours=14))), "transfer")
    spent = ids(program.redeem(RedeemCommand(customer="m3", redemption_id="r-m3", points=10, at=t + timedelta(hours=15))), "redeem")
    got = report(ledger_url, ledger_name, "--from", (t - timedelta(days=1)).date().isoformat(), "--to", now.date().isoformat())
    flags = {(f["kind"], tuple(f["members"])): f["transactions"] for f in got["flags"]}
    assert flags == {
        ("earn_velocity", ("m1",)): earns,
        ("redemption_velocity", ("m1",)): redeems,
        ("transfer_chain", ("m2", "m3", "m4")): [first, second],
        ("redemption_after_transfer", ("m3",)): [first, spent],
    }


POOL_ROLES = ("contributed", "funds", "awarded", "redeemed", "paid")
"""The chart's accounts of a partner in a pool: pools:{pool}:partners:{partner}:{role}."""


def test_pool_figures_and_pool_redemptions_agree_with_the_ledger_and_the_partner_statements(
    client: LedgerClient, ledger_url: str, ledger_name: str
) -> None:
    """Pool travel (skyway share 3, cityrail 1) funded and drawn on before the window (2026-01-10 to 2026-01-20),
    in it and after it. In it: skyway contributes 301, m1 earns 3000 from the pool, redeems the catalogue's
    GIFT-25 (gift_card, 2250 points) and a free label (50) against it, and m2 redeems GIFT-25 the plain way."""

    program = programme(client, pending_days=0)
    window = ("--from", "2026-01-10", "--to", "2026-01-20")
    start, end = datetime(2026, 1, 9, 23, 59, 59, 999999, tzinfo=UTC), datetime(2026, 1, 20, 23, 59, 59, 999999, tzinfo=UTC)
    assert start < T0 and T0 + days(1) < end
    for partner, key in (("skyway", "c-1"), ("cityrail", "c-2")):
        program.execute(PoolContributeCommand(pool="travel", partner=partner, contribution_id=key, points=6000 if partner == "skyway" else 2000, at=T0 - days(5)))
    program.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-0", points=40, at=T0 - days(1)))
    program.earn(earn("m2", "o-1", "3000.00", T0 - days(2)))
    at = lambda hours: (T0 + timedelta(hours=hours)).isoformat()  # noqa: E731
    cli(ledger_url, ledger_name, "pool", "contribute", "--pool", "travel", "--partner", "skyway", "--contribution", "c-3", "-p", "301", "--at", at(0))
    cli(ledger_url, ledger_name, "pool", "earn", "-c", "m1", "--pool", "travel", "--earn", "e-1", "-p", "3000", "--at", at(1))
    cli(ledger_url, ledger_name, "pool", "redeem", "-c", "m1", "--pool", "travel", "--redemption", "pr-1", "-p", "2250", "--reward", "GIFT-25", "--at", at(2))
    cli(ledger_url, ledger_name, "pool", "redeem", "-c", "m1", "--pool", "travel", "--redemption", "pr-2", "-p", "50", "--reward", "lounge", "--at", at(3))
    cli(ledger_url, ledger_name, "redeem", "-c", "m2", "--redemption", "r-1", "--reward", "GIFT-25", "--at", at(4))
    program.execute(PoolContributeCommand(pool="travel", partner="cityrail", contribution_id="c-4", points=100, at=T0 + days(15)))
    program.execute(PoolEarnCommand(customer="m1", pool="travel", earn_id="e-2", points=10, at=T0 + days(15)))
    got = report(ledger_url, ledger_name, *window)
    everything = list(client.transactions())
    inside = [tx for tx in everything if start < tx.timestamp <= end]
    assert len(inside) == 5 and len(everything) > len(inside) + 5

    # redemption by reward type: the pool's GIFT-25 records its type as the plain one does; the free label none
    pool_gift = client.find_by_reference("pool_redeem:pr-1")
    assert pool_gift is not None and (pool_gift.metadata["reward"], pool_gift.metadata["reward_type"]) == ("GIFT-25", "gift_card")
    rewards = by_reward_type(inside)
    assert {r["reward_type"]: [r["redemptions"], r["points"]] for r in got["rewards"]} == rewards
    assert rewards == {"gift_card": [2, 4500], "unspecified": [1, 50]}

    # each partner's pool figures: counted from the window's postings, and the ledger's own volumes and balances
    rows = {(r["partner"], r["pool"]): r for r in got["partner_pools"]}
    assert set(rows) == {("skyway", "travel"), ("cityrail", "travel")}
    for (partner, pool), row in rows.items():
        address = lambda role: f"pools:{pool}:partners:{partner}:{role}"  # noqa: E731
        asset = lambda role: "USD/2" if role == "paid" else "PTS"  # noqa: E731
        sign = lambda role: -1 if role in ("contributed", "paid") else 1  # noqa: E731
        counted = {
            role: sign(role) * sum(
                (p.amount if p.destination == address(role) else -p.amount)
                for tx in inside for p in tx.postings if p.asset == asset(role) and address(role) in (p.source, p.destination)
            )
            for role in POOL_ROLES
        }
        volumes = {
            row.account: row.balance
            for row in client.volumes(f"pools:{pool}:partners:{partner}:", start=start + timedelta(microseconds=1), end=end)
        }
        for role in POOL_ROLES:
            moved = client.aggregate_balances(address(role), pit=end).get(asset(role), 0) - client.aggregate_balances(address(role), pit=start).get(asset(role), 0)
            assert sign(role) * volumes.get(address(role), 0) == sign(role) * moved == counted[role], (partner, role)
        figures = {role: row[role] for role in POOL_ROLES}
        assert figures == {**counted, "paid": f"{counted['paid'] / 100:.2f}"}, partner
        assert row["contributed"] == row["funds"] + row["awarded"] + row["redeemed"] and row["currency"] == "USD"
        # ...and they tie to the partner statement: its pool lines in the window, its pools at the window's ends
        statement = json.loads(cli(ledger_url, ledger_name, "partner", "statement", "--partner", partner, *window, "-f", "json"))
        opening = json.loads(cli(ledger_url, ledger_name, "partner", "statement", "--partner", partner, "--to", "2026-01-09", "-f", "json"))
        pool_lines = [line for line in statement["lines"] if line["line"] == "pool"]
        assert sum(line["points"] for line in pool_lines) == row["contributed"]
        assert statement["pool_movements"] == row["paid"] and statement["ok"] is True
        (at_end,), (at_start,) = statement["pools"], opening["pools"]
        for role in ("contributed", "funds", "awarded", "redeemed"):
            assert at_end[role] - at_start[role] == row[role], (partner, role)
        assert Decimal(at_end["paid"]) - Decimal(at_start["paid"]) == Decimal(row["paid"])
    # by hand (3:1 shares): c-3 301 points at 0.0090 = 2.709 → 2.71; e-1 3000 = 2250 + 750; pr-1 2250 = 1688 + 562
    # (the tie to the larger share); pr-2 50 = 38 + 12
    sky, city = rows[("skyway", "travel")], rows[("cityrail", "travel")]
    assert [sky[r] for r in POOL_ROLES] == [301, 301 - 2250 - 1726, 2250, 1726, "2.71"]
    assert [city[r] for r in POOL_ROLES] == [0, -750 - 574, 750, 574, "0.00"]

    # the CSV of the part carries the same figures
    text = cli(ledger_url, ledger_name, "report", "programme", *window, "-f", "csv", "--table", "partner_pools")
    assert [dict(r) for r in csv.DictReader(io.StringIO(text))] == [{k: str(v) for k, v in r.items()} for r in got["partner_pools"]]
