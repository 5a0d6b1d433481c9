"""Issue 10, part 4: a seeded randomized history on the real server, through the fault proxy, judged by the model.

A small seed of the soak (``scripts/soak.py`` runs the long ones): concurrent
workers, a share of answers dropped after the server processed the request and
a share delayed past the client's timeout; the model of the intended programme
must allow every posted transaction and every answer, and every invariant must
hold. On a failure the assertion message is the reproduction (seed, base
instant, violations, operations with their answers).
"""

from __future__ import annotations

from loyalty_accounts.testing.soak import SoakConfig, reproduction, run

SEED = 7
OPERATIONS = 300


def test_a_randomized_history_breaks_no_invariant(ledger_url: str) -> None:
    report = run(SoakConfig(url=ledger_url, operations=OPERATIONS, workers=4, seed=SEED, drop=0.05, delay=0.03))
    assert len(report.outcomes) == OPERATIONS
    assert report.faults.get("drop", 0) > 0 and report.faults.get("delay", 0) > 0  # the faults really happened
    assert report.verdict.outcomes["posted"] > OPERATIONS // 3  # and the history is not all refusals
    assert report.ok, reproduction(report, OPERATIONS, lines=60)
