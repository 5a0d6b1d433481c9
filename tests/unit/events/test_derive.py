"""What the event stream tells of each ledger log (:func:`loyalty_accounts.events.events_of_log`).

Proves, on logs built by hand as ``GET /v2/{ledger}/logs`` serves them (addresses from the repository's
chart): every operation's transaction gives its event type, one event per member whose points it moves,
with the operation's ``points`` measure and the member's net ``balance_change`` (both summed here from the
postings each test writes); a transfer gives both members' events with direction and counterparty; a tier
change follows its earn; a revert is a void of a hold and a reversal of anything else; transactions moving
no member's points, and logs that are not transactions, give nothing; a posting made by hand is
``points.moved``; a transaction log without a usable hash is refused; metadata that looks like personal
data never leaves in an event; ids are stable per log and index, and distinct across them. Last, the
coverage of :data:`BY_OPERATION`: every operation whose plan moves customers' points (found by running
one plan of each operation in the real Numscript interpreter) has an event type.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import pytest
from support.event_logs import leg, mirrored, new_transaction_log, reverted_log, served_log, transaction
from support.interpreter import run_script
from support.operation_plans import every_plan

from loyalty_accounts.chart import Chart, load_chart
from loyalty_accounts.events import BY_OPERATION, EVENT_TYPES, DomainEvent, EventStreamError, event_id, events_of_log, events_of_logs
from loyalty_accounts.events.derive import WITHHELD
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import OPERATIONS

ROOT = Path(__file__).resolve().parents[3]
CHART: Chart = load_chart(ROOT / "chart_of_accounts.yaml")
PROGRAMME = "acme"
PTS, CTL, QPTS, USD = CHART.points_asset, CHART.control_asset, CHART.qualifying_asset, CHART.money_asset
EXPIRY, LATER = date(2027, 6, 1), date(2027, 9, 30)
UTC = timezone.utc


def bucket(member: str, expiry: date = EXPIRY) -> str:
    return CHART.bucket(member, expiry)


def hold_account(member: str) -> str:
    return CHART.hold(member, "h-1")


def guard(*members: str) -> list[dict[str, Any]]:
    """The guard's legs an operation's transaction carries: control units only, no points."""

    legs = [leg(CHART.sequence(m), CHART.sequence_counterpart(), 1, CTL) for m in members]
    return legs + [leg(CHART.period_closed(), CHART.period_closed(), 1, CTL)]


def operation_tx(
    tx_id: int, operation: str, legs: Sequence[Mapping[str, Any]], *, member: str = "c42", sequence: str = "c42=5",
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A transaction one of the programme's operations posted: its legs, the guard's, and its metadata."""

    metadata = {
        "customer": member, "operation": operation, "template": operation, "command_hash": "ab" * 32,
        "sequence": sequence, **(extra or {}),
    }
    return transaction(tx_id, [*legs, *guard(member)], metadata, reference=f"{operation}:k-{tx_id}")


def events(log: Mapping[str, Any], programme: str = PROGRAMME) -> list[DomainEvent]:
    return events_of_log(log, CHART, programme)


def only(log: Mapping[str, Any]) -> DomainEvent:
    found = events(log)
    assert len(found) == 1, [e.type for e in found]
    return found[0]


# -- one member, one event: each operation's type and measure ----------------------------------------

ISSUED, PENDING, CLAW = CHART.issued_shard("c42"), CHART.pending("c42", date(2026, 6, 15), EXPIRY), CHART.clawback("c42")
SINGLE: list[tuple[str, list[dict[str, Any]], str, int, int]] = [
    # operation, legs, event type, points, balance change: each figure summed from the legs' own amounts
    ("earn", [leg(ISSUED, PENDING, 120), leg(ISSUED, CLAW, 30), leg(CHART.tiers_qualifying(), CHART.qualifying("c42", date(2026, 6, 1)), 150, QPTS)],
     "points.earned", 120 + 30, 120 + 30),
    ("engage", [leg(ISSUED, bucket("c42"), 500), leg(CHART.engagement_counter("c42", "sign_up"), CHART.engagement_awarded("sign_up"), 1, CHART.awards_asset)],
     "points.earned", 500, 500),
    ("release", [leg(PENDING, bucket("c42"), 95)], "points.released", 95, 0),
    ("hold", [leg(bucket("c42"), hold_account("c42"), 50), leg(bucket("c42", LATER), hold_account("c42"), 20)], "points.held", 50 + 20, 0),
    ("capture", [leg(hold_account("c42"), CHART.redeemed(), 55), leg(hold_account("c42"), bucket("c42"), 15)], "points.captured", 55, -55),
    ("void", [leg(hold_account("c42"), bucket("c42"), 50), leg(hold_account("c42"), bucket("c42", LATER), 20)], "points.voided", 50 + 20, 0),
    ("redeem", [leg(bucket("c42"), CHART.redeemed(), 300), leg(bucket("c42", LATER), CHART.redeemed(), 50)], "points.redeemed", 300 + 50, -(300 + 50)),
    ("expire", [leg(bucket("c42"), CHART.expired(), 20)], "points.expired", 20, -20),
    ("convert", [leg(bucket("c42"), CHART.converted(), 500), leg(CHART.credit_issued(), CHART.credit("c42"), 500, USD)], "points.converted", 500, -500),
    ("refund", [leg(bucket("c42"), ISSUED, 50), leg(CLAW, ISSUED, 50), leg(CHART.qualifying("c42", date(2026, 6, 1)), CHART.tiers_qualifying(), 100, QPTS)],
     "points.refunded", 50 + 50, -(50 + 50)),
    ("adjust", [leg(CHART.adjustments(), bucket("c42"), 50)], "points.adjusted", 50, 50),
    ("adjust", [leg(bucket("c42"), CHART.adjustments(), 30)], "points.adjusted", -30, -30),
    ("exchange_out", [leg(bucket("c42"), CHART.partner_account("skyway", "exchanged"), 120),
                      leg(CHART.partner_account("skyway", "issued"), CHART.partner_account("skyway", "delivered"), 40, "SKYMILES"),
                      leg(CHART.partner_account("skyway", "settlement"), CHART.exchange_cost(), 50, USD)],
     "points.exchanged", 120, -120),
    ("exchange_in", [leg(CHART.partner_account("skyway", "issued"), CHART.partner_account("skyway", "received"), 100, "SKYMILES"),
                     leg(ISSUED, bucket("c42"), 200),
                     leg(CHART.exchange_revenue(), CHART.partner_account("skyway", "settlement"), 80, USD)],
     "points.exchanged", 200, 200),
]


@pytest.mark.parametrize(("operation", "legs", "event_type", "points", "change"), SINGLE, ids=[f"{c[0]}-{i}" for i, c in enumerate(SINGLE)])
def test_each_operation_gives_its_event_type_and_measure(
    operation: str, legs: list[dict[str, Any]], event_type: str, points: int, change: int
) -> None:
    tx = operation_tx(12, operation, legs, extra={"points": "0"})
    event = only(new_transaction_log(17, tx))
    assert (event.type, event.points, event.balance_change) == (event_type, points, change)
    assert (event.member, event.operation, event.member_sequence) == ("c42", operation, 5)
    assert (event.log_id, event.index, event.transaction_id, event.reference, event.programme) == (17, 0, 12, f"{operation}:k-12", PROGRAMME)


@pytest.mark.parametrize(("operation", "direction"), [("exchange_out", "out"), ("exchange_in", "in")])
def test_an_exchange_says_its_direction(operation: str, direction: str) -> None:
    legs = next(c[1] for c in SINGLE if c[0] == operation)
    event = only(new_transaction_log(3, operation_tx(2, operation, legs)))
    assert event.details["direction"] == direction
    assert "counterparty" not in event.details


def test_details_are_the_metadata_less_the_bookkeeping_keys() -> None:
    tx = operation_tx(4, "redeem", [leg(bucket("c42"), CHART.redeemed(), 70)], extra={"redemption_id": "r-5", "reward": "mug"})
    event = only(new_transaction_log(5, tx))
    assert dict(event.details) == {"redemption_id": "r-5", "reward": "mug"}  # customer: the member field says it


def test_instants_are_the_transactions_and_the_logs() -> None:
    tx = transaction(4, [leg(CHART.adjustments(), bucket("c42"), 5)], {"operation": "adjust"}, timestamp="2026-05-31T22:30:00+02:00")
    event = only(new_transaction_log(5, tx, date="2026-06-01T10:00:01.250000Z"))
    assert event.occurred_at == datetime(2026, 5, 31, 20, 30, tzinfo=UTC)
    assert event.recorded_at == datetime(2026, 6, 1, 10, 0, 1, 250000, tzinfo=UTC)
    body = json.loads(event.body())
    assert body["occurred_at"].endswith("Z") and body["recorded_at"].endswith("Z")
    assert datetime.fromisoformat(body["occurred_at"].replace("Z", "+00:00")) == event.occurred_at
    assert datetime.fromisoformat(body["recorded_at"].replace("Z", "+00:00")) == event.recorded_at


def test_the_body_is_compact_json_of_the_documented_fields() -> None:
    event = only(new_transaction_log(9, operation_tx(8, "expire", [leg(bucket("c42"), CHART.expired(), 20)])))
    body = event.body()
    parsed = json.loads(body)
    assert list(parsed) == [
        "id", "type", "programme", "member", "member_sequence", "log_id", "index", "transaction_id", "reference",
        "operation", "occurred_at", "recorded_at", "points", "balance_change", "details",
    ]
    assert body == json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert (parsed["type"], parsed["member"], parsed["points"], parsed["log_id"]) == ("points.expired", "c42", 20, 9)


# -- two members ---------------------------------------------------------------------------------------


def test_a_transfer_gives_the_senders_then_the_receivers_event() -> None:
    moved = [leg(bucket("c42"), bucket("c77"), 40), leg(bucket("c42", LATER), bucket("c77", LATER), 30)]
    tx = transaction(
        21, [*moved, *guard("c42", "c77")],
        {"customer": "c42", "to_customer": "c77", "transfer_id": "t-1", "operation": "transfer", "sequence": "c42=7,c77=12"},
        reference="transfer:t-1",
    )
    sender, receiver = events(new_transaction_log(30, tx))
    assert (sender.member, sender.type, sender.points, sender.balance_change, sender.member_sequence) == ("c42", "points.transferred", 40 + 30, -(40 + 30), 7)
    assert (receiver.member, receiver.type, receiver.points, receiver.balance_change, receiver.member_sequence) == ("c77", "points.transferred", 40 + 30, 40 + 30, 12)
    assert (sender.details["direction"], sender.details["counterparty"]) == ("out", "c77")
    assert (receiver.details["direction"], receiver.details["counterparty"]) == ("in", "c42")
    assert (sender.index, receiver.index) == (0, 1) and sender.id != receiver.id


@pytest.mark.parametrize(
    ("text", "expected"),
    [("c42=5,c77=12", {"c42": 5, "c77": 12}), ("c77=3", {"c77": 3}), ("c42=x,c77=4", {"c77": 4}), ("", {})],
)
def test_each_members_sequence_is_read_from_the_guards_metadata(text: str, expected: dict[str, int]) -> None:
    moved = [leg(bucket("c42"), bucket("c77"), 10)]
    tx = transaction(2, moved, {"operation": "transfer", "sequence": text})
    found = {e.member: e.member_sequence for e in events(new_transaction_log(3, tx))}
    assert found == {"c42": expected.get("c42"), "c77": expected.get("c77")}


# -- tier changes -------------------------------------------------------------------------------------


def test_a_tier_change_follows_the_earn_event() -> None:
    tier = {"r_tier": "member", "tier_after": "silver", "tier_change": "upgrade"}
    tx = operation_tx(6, "earn", [leg(ISSUED, PENDING, 400)], extra=tier)
    earned, changed = events(new_transaction_log(7, tx))
    assert (earned.type, earned.index) == ("points.earned", 0)
    assert (changed.type, changed.index, changed.member, changed.points, changed.balance_change) == ("tier.changed", 1, "c42", 0, 0)
    assert dict(changed.details) == {"tier_before": "member", "tier_after": "silver", "direction": "upgrade"}
    assert changed.member_sequence == earned.member_sequence == 5


def test_an_earn_that_kept_the_tier_gives_no_tier_event() -> None:
    tx = operation_tx(6, "earn", [leg(ISSUED, PENDING, 400)], extra={"r_tier": "member", "tier_after": "member"})
    assert [e.type for e in events(new_transaction_log(7, tx))] == ["points.earned"]


# -- reverts ------------------------------------------------------------------------------------------


def test_the_revert_of_a_hold_is_a_void() -> None:
    held = operation_tx(10, "hold", [leg(bucket("c42"), hold_account("c42"), 60), leg(bucket("c42", LATER), hold_account("c42"), 15)])
    event = only(reverted_log(12, mirrored(11, held), held))
    assert (event.type, event.points, event.balance_change) == ("points.voided", 60 + 15, 0)
    assert (event.operation, event.member_sequence, event.transaction_id) == (None, None, 11)
    assert (event.details["reverted_transaction_id"], event.details["reverted_operation"]) == ("10", "hold")


def test_the_revert_of_anything_else_is_a_reversal_signed_as_it_moved() -> None:
    earned = operation_tx(10, "earn", [leg(ISSUED, PENDING, 120), leg(ISSUED, CLAW, 30)])
    event = only(reverted_log(12, mirrored(11, earned), earned))
    assert (event.type, event.points, event.balance_change) == ("points.reverted", -(120 + 30), -(120 + 30))
    assert (event.details["reverted_transaction_id"], event.details["reverted_operation"]) == ("10", "earn")
    assert event.operation is None


def test_the_revert_of_a_transaction_moving_no_points_gives_nothing() -> None:
    estimate = transaction(3, [leg("program:revenue:estimates", "program:revenue:estimates", 1, CTL)], {"operation": "revenue_estimate"})
    assert events(reverted_log(5, mirrored(4, estimate), estimate)) == []


# -- nothing to tell ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tx",
    [
        transaction(1, [leg(CHART.period_closed(), CHART.period_closed(), 1, CTL)], {"operation": "open_control", "account": CHART.period_closed()}),
        transaction(2, [leg(CHART.sequence("c42"), CHART.sequence("c42"), 1, CTL)], {"operation": "open_control", "account": CHART.sequence("c42")}),
        transaction(3, [leg(CHART.engagement_counter("c42", "sign_up"), CHART.engagement_counter("c42", "sign_up"), 1, CHART.awards_asset)],
                    {"operation": "open_counter", "customer": "c42"}),
        transaction(4, [leg(CHART.period_closed(), CHART.period_closed(), 1, CTL), *guard("c42")], {"operation": "period_close"}),
        transaction(5, [leg(CHART.campaign_charged("bf-2026"), CHART.campaign_usage("c42", "bf-2026"), 900, CHART.campaign_asset)],
                    {"operation": "usage_catch_up", "customer": "c42"}),
    ],
    ids=["open_control-closed", "open_control-sequence", "open_counter", "period_close", "usage_catch_up"],
)
def test_a_transaction_moving_no_members_points_gives_no_event(tx: dict[str, Any]) -> None:
    assert events(new_transaction_log(9, tx)) == []


@pytest.mark.parametrize(
    ("log_type", "data"),
    [
        ("SET_METADATA", {"targetType": "TRANSACTION", "targetId": 4, "metadata": {"note": "x"}}),
        ("DELETE_METADATA", {"targetType": "TRANSACTION", "targetId": 4, "key": "note"}),
        ("INSERTED_SCHEMA", {"schema": {"version": "coa-1", "chart": {}}}),
    ],
)
def test_logs_that_are_not_transactions_give_no_event(log_type: str, data: dict[str, Any]) -> None:
    assert events(served_log(9, log_type, data)) == []


def test_a_posting_made_by_hand_is_points_moved() -> None:
    manual = transaction(40, [leg("world", CHART.bucket("c5", None), 10)], {"note": "migrated balance"}, reference="manual-1")
    event = only(new_transaction_log(41, manual))
    assert (event.type, event.member, event.points, event.balance_change, event.operation, event.member_sequence) == (
        "points.moved", "c5", 10, 10, None, None
    )
    assert event.details == {"note": "migrated balance"}


def test_an_unknown_operation_is_points_moved_too() -> None:
    tx = transaction(40, [leg(bucket("c42"), CHART.redeemed(), 25)], {"operation": "bonus_spend"})
    event = only(new_transaction_log(41, tx))
    assert (event.type, event.points, event.balance_change, event.operation) == ("points.moved", -25, -25, "bonus_spend")


# -- logs that cannot be told --------------------------------------------------------------------------

EARN = operation_tx(1, "earn", [leg(ISSUED, PENDING, 100)])


@pytest.mark.parametrize("hash_value", [None, "", "not base64!"], ids=["null", "empty", "not-base64"])
def test_a_transaction_log_without_a_usable_hash_is_refused(hash_value: str | None) -> None:
    log = {**new_transaction_log(2, EARN), "hash": hash_value}
    with pytest.raises(EventStreamError):
        events(log)
    without = {k: v for k, v in new_transaction_log(2, EARN).items() if k != "hash"}
    with pytest.raises(EventStreamError, match="hash"):
        events(without)


@pytest.mark.parametrize(
    "change",
    [{"id": "2"}, {"data": "nothing"}, {"date": "yesterday"}, {"data": {"transaction": {"id": 1}}}],
    ids=["id-not-int", "data-not-object", "bad-date", "transaction-unreadable"],
)
def test_a_malformed_transaction_log_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(EventStreamError):
        events({**new_transaction_log(2, EARN), **change})


# -- personal data -----------------------------------------------------------------------------------

EMAIL, PHONE = "ann.lee@example.com", "+44 20 7946 0958"


def test_metadata_looking_like_personal_data_is_withheld_and_never_sent() -> None:
    metadata = {"note": f"call {PHONE}", "contact": EMAIL, "reason": "goodwill", EMAIL: "1"}
    tx = transaction(40, [leg(CHART.adjustments(), bucket("c42"), 10)], metadata, reference="manual-2")
    event = only(new_transaction_log(41, tx))
    assert dict(event.details) == {"note": WITHHELD, "contact": WITHHELD, "reason": "goodwill"}
    body = event.body().decode("utf-8")
    for secret in (EMAIL, "ann.lee", "7946", "0958"):
        assert secret not in body


def test_a_reference_looking_like_personal_data_is_withheld_and_never_sent() -> None:
    tx = transaction(40, [leg(CHART.adjustments(), bucket("c42"), 10)], {}, reference=f"goodwill for {EMAIL}")
    event = only(new_transaction_log(41, tx))
    assert event.reference == WITHHELD
    assert EMAIL not in event.body().decode("utf-8")


def test_an_operation_looking_like_personal_data_is_withheld_and_never_sent() -> None:
    tx = transaction(40, [leg(CHART.adjustments(), bucket("c42"), 10)], {"operation": EMAIL}, reference="manual-3")
    event = only(new_transaction_log(41, tx))
    assert (event.type, event.operation) == ("points.moved", WITHHELD)
    assert EMAIL not in event.body().decode("utf-8")


class _Registry:
    """A member registry's screen that knows one member's name (PersonalDataPort)."""

    def members_data(self, values: Mapping[str, str]) -> dict[str, str]:
        return {name: "member name" for name, value in values.items() if "zebulon quartermaine" in value.lower()}


def test_with_the_registry_a_members_name_is_withheld_too() -> None:
    tx = transaction(40, [leg(CHART.adjustments(), bucket("c42"), 10)], {"note": "for Zebulon Quartermaine", "reason": "goodwill"}, reference="m-4")
    log = new_transaction_log(41, tx)
    assert only(log).details["note"] == "for Zebulon Quartermaine"  # no registry: patterns only
    screened = events_of_log(log, CHART, "acme", _Registry())
    assert dict(screened[0].details) == {"note": WITHHELD, "reason": "goodwill"}
    assert "Zebulon" not in screened[0].body().decode("utf-8")


# -- ids ------------------------------------------------------------------------------------------------


def _transfer_log(log_id: int) -> dict[str, Any]:
    tx = transaction(5, [leg(bucket("c42"), bucket("c77"), 10)], {"operation": "transfer"})
    return new_transaction_log(log_id, tx)


def test_ids_are_stable_for_a_log_whoever_derives_them() -> None:
    log = _transfer_log(6)
    first, again, elsewhere = events(log), events(json.loads(json.dumps(log))), events(log, programme="another")
    assert [e.id for e in first] == [e.id for e in again] == [e.id for e in elsewhere]
    assert all(re.fullmatch(r"ev_[0-9a-f]{32}", e.id) for e in first)  # as the dead letters' CHECK wants


def test_ids_come_from_the_logs_hash_and_the_index() -> None:
    log = _transfer_log(6)
    digest = base64.b64decode(log["hash"])
    assert [e.id for e in events(log)] == [event_id(digest, 0), event_id(digest, 1)]
    assert event_id(digest, 0) != event_id(digest, 1)
    rehashed = {**log, "hash": base64.b64encode(bytes(32)).decode()}
    assert {e.id for e in events(rehashed)}.isdisjoint(e.id for e in events(log))
    other_log = _transfer_log(7)  # the same transaction in another log: another hash
    assert other_log["hash"] != log["hash"]
    assert {e.id for e in events(other_log)}.isdisjoint(e.id for e in events(log))


def test_events_of_logs_tells_each_log_in_order() -> None:
    logs = [
        new_transaction_log(1, operation_tx(1, "earn", [leg(ISSUED, PENDING, 100)])),
        served_log(2, "SET_METADATA", {"targetType": "TRANSACTION", "targetId": 1, "metadata": {"n": "1"}}),
        _transfer_log(3),
    ]
    told = list(events_of_logs(iter(logs), CHART, PROGRAMME))
    assert [(e.log_id, e.index, e.type, e.member) for e in told] == [
        (1, 0, "points.earned", "c42"), (3, 0, "points.transferred", "c42"), (3, 1, "points.transferred", "c77"),
    ]


# -- coverage ------------------------------------------------------------------------------------------


def test_the_issues_event_kinds_are_all_types() -> None:
    kinds = ["earned", "released", "held", "captured", "voided", "redeemed", "expired", "transferred", "exchanged", "converted", "refunded"]
    assert {f"points.{k}" for k in kinds} | {"tier.changed"} <= set(EVENT_TYPES)
    assert set(BY_OPERATION.values()) <= set(EVENT_TYPES)


def _moves_customer_points(postings: list[dict[str, Any]]) -> bool:
    return any(
        p["asset"] == PTS and (CHART.customer_of(str(p["source"])) or CHART.customer_of(str(p["destination"])))
        for p in postings
    )


def test_every_operation_moving_customers_points_has_an_event_type() -> None:
    """One plan of every operation, run in the real Numscript interpreter with every account funded: the
    operations whose postings move the points asset into, out of or between customers' accounts are exactly
    the keys of BY_OPERATION. The others move memo units only (control, awards, campaign usage)."""

    catalogue = Catalogue(ROOT / "numscript")
    assets = [
        PTS, CTL, QPTS, USD, CHART.awards_asset, CHART.campaign_asset, CHART.stock_asset, *(CHART.partner(k).asset for k in CHART.spec.partners)
    ]
    moving: set[str] = set()
    planned: set[str] = set()
    for plan in every_plan(CHART, catalogue):
        planned.add(plan.operation)
        accounts = [v for v in plan.vars.values() if CHART.parse(v) is not None]
        postings = run_script(plan.script, plan.vars, {a: {asset: 10**12 for asset in assets} for a in accounts})
        if _moves_customer_points(postings):
            moving.add(plan.operation)
    assert planned == set(OPERATIONS)
    assert moving == set(BY_OPERATION)
    assert set(OPERATIONS) - moving == {
        "open_control", "open_counter", "period_close", "pool_contribute", "restock", "revenue_estimate", "usage_catch_up",
    }


def test_a_physical_rewards_review_hold_and_decisions_count_the_points_not_the_unit() -> None:
    """The unit of stock a review hold reserves (stock asset) moves with the points; the events tell the points only."""

    units, hold, stock = CHART.stock_asset, CHART.hold("c42", "rv-r-9"), CHART.stock("MUG-BLUE")
    review_keys = {"review": "required", "reward": "MUG-BLUE", "reward_type": "product", "points": "1000"}
    held = operation_tx(12, "redeem", [leg(bucket("c42"), hold, 1000), leg(stock, hold, 1, units)], extra=review_keys)
    approved = operation_tx(
        13, "review", [leg(hold, CHART.redeemed(), 1000), leg(hold, CHART.delivered("MUG-BLUE"), 1, units)], extra={"decision": "approved"}
    )
    rejected = operation_tx(14, "review", [leg(hold, bucket("c42"), 1000), leg(hold, stock, 1, units)], extra={"decision": "rejected"})
    told = [only(new_transaction_log(n, tx)) for n, tx in enumerate((held, approved, rejected), start=20)]
    assert [(e.type, e.points, e.balance_change) for e in told] == [
        ("points.held", 1000, 0), ("points.redeemed", 1000, -1000), ("points.voided", 1000, 0),
    ]
