"""The registry's metadata rules (each entry's ``writes``) match what every operation's plans write,
and every plan passes the metadata check."""

from __future__ import annotations

from support.operation_plans import every_plan
from support.report_books import tx

from loyalty_accounts.chart import Chart
from loyalty_accounts.numscript import Catalogue
from loyalty_accounts.operations import OPERATIONS, RESERVED_METADATA
from loyalty_accounts.reports.reconcile import check_transaction_metadata


def test_metadata_table_matches_what_every_plan_writes(chart: Chart, catalogue: Catalogue) -> None:
    plans = every_plan(chart, catalogue)
    assert {p.operation for p in plans} == set(OPERATIONS)
    optional_seen: set[tuple[str, str]] = set()
    for plan in plans:
        rule = OPERATIONS[plan.operation].writes
        keys = set(plan.all_metadata())
        assert RESERVED_METADATA | rule.required <= keys, plan.reference
        assert all(rule.allows(key) for key in keys), (plan.reference, sorted(keys))
        optional_seen |= {(plan.operation, k) for k in keys & rule.optional}
        if rule.business_key:
            assert plan.metadata[rule.business_key] in plan.reference
    assert optional_seen == {(op, k) for op, entry in OPERATIONS.items() for k in entry.writes.optional}
    # Every plan passes the reconciliation's metadata check.
    posted = [tx(i, [("a", "b", 1)], p.all_metadata()) for i, p in enumerate(plans)]
    assert check_transaction_metadata(posted).status == "pass"
