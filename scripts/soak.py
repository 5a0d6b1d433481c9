#!/usr/bin/env python
"""Soak the programme: seeded random operations from concurrent workers through a fault proxy, judged by a model.

    scripts/soak.py --operations 10000 --workers 4 --seed 7

Needs a running ledger server (--url, default $LOYALTY_LEDGER_URL). Prints one
table: the operations by outcome, the faults the proxy injected, and one column
per violation kind (all expected 0). On a violation it prints a minimal
reproduction (the seed and the shortest failing prefix found by bisection,
unless --no-shrink) and exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime

from loyalty_accounts.testing.judge import VIOLATIONS
from loyalty_accounts.testing.soak import SoakConfig, SoakReport, reproduction, run, shrink


def table(report: SoakReport) -> str:
    """The run's counts as aligned ``name  value`` rows, in three groups."""

    rows: list[tuple[str, object]] = [("operations", len(report.ops)), ("seconds", f"{report.seconds:.1f}")]
    rows += [(f"outcome {k}", v) for k, v in sorted(report.verdict.outcomes.items())]
    rows += [("requests through proxy", report.requests)]
    rows += [(f"fault {k}", report.faults.get(k, 0)) for k in ("drop", "delay")]
    rows += [(f"violation {k}", v) for k, v in report.verdict.counts().items()]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value:>8}" for name, value in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--customers", type=int, default=6)
    parser.add_argument("--url", default=os.environ.get("LOYALTY_LEDGER_URL"))
    parser.add_argument("--drop", type=float, default=0.05, help="share of answers dropped after the server processed the request")
    parser.add_argument("--delay", type=float, default=0.03, help="share of answers delayed past the client timeout")
    parser.add_argument("--timeout", type=float, default=2.0, help="client timeout, seconds")
    parser.add_argument("--base", type=datetime.fromisoformat, default=None, help="the 'now' instants are drawn around (to rerun a seed)")
    parser.add_argument("--no-shrink", action="store_true")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("no ledger: pass --url or set LOYALTY_LEDGER_URL")
    config = SoakConfig(url=args.url.rstrip("/"), operations=args.operations, workers=args.workers, seed=args.seed,
                        customers=args.customers, drop=args.drop, delay=args.delay, timeout=args.timeout,
                        delay_s=args.timeout * 1.25, base=args.base)
    report = run(config)
    print(f"ledger {report.ledger}, seed {args.seed}, {args.workers} workers")
    print(table(report))
    if report.ok:
        return 0
    print("violations of the full run:")
    for kind, index, text in report.verdict.violations:
        print(f"  [{kind}] {'#' + str(index) + ' ' if index is not None else ''}{text}")
    prefix, failing = (len(report.ops), report) if args.no_shrink else shrink(report)
    print(reproduction(failing, prefix))
    return 1


if __name__ == "__main__":
    assert set(VIOLATIONS)
    sys.exit(main())
