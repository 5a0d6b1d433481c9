"""Shared operation counters: back-dated operations on an account many customers share, exact under concurrency.

A shared account (a physical reward's stock, ``catalogue:{sku}:stock``; a
partner pool's funds, ``pools:{pool}:partners:{p}:funds``) may never go
negative, and the ledger checks only its *current* balance when it posts.
An operation dated in the past is planned from the account's lowest balance
from its instant on, so ten of them dated before a later restock would all
pass the current check and overdraw the account at their instant. Each shared
account therefore has an operation counter of the chart (a negative count in
the control asset: ``catalogue:{sku}:sequence``, ``pools:{pool}:sequence``),
used as the guard's customer counter is (:mod:`.guard`):

- the plan reads the counter's count (:func:`read_count`) **before** it reads
  the shared balances;
- an operation that takes from the shared account moves one control unit from
  the counter with the overdraft bounded by the count read plus one
  (:func:`bounded_step`): anything posted on the shared account between the
  read and the post left the counter one lower, the post fails with
  ``INSUFFICIENT_FUND``, and the executor reads again and re-plans;
- an operation that only adds to it (a restock, a pool contribution) moves
  one unit unbounded (:func:`unbounded_step`): it needs no check of its own,
  but it refuses every take planned before it.

The templates name the leg's vars alike (``numscript/redeem_reward.num``,
``hold_reward``, ``restock``, ``pool_earn``, ``pool_redeem``,
``pool_contribute``), apart from the guard's ``guard_*`` vars the executor
appends to the same scripts::

    counter_step      one control unit                       CTL 1
    counter_sequence  the counter                            catalogue:MUG-BLUE:sequence
    counter_expected  the bound: count read + 1 (takes only) CTL 5
    counter_counted   where the unit goes                    program:control:sequence

**Opening.** Formance v2.4.12 locks only balance rows that exist: it inserts
missing rows ``ON CONFLICT DO NOTHING`` and selects the rows ``FOR UPDATE`` in
one statement, which does not see a row a concurrent, uncommitted post is
inserting; two bounded posts on a counter without a row would both read 0 and
both pass. A counter read without a row (``None``: an account restocked or
funded before counters) is opened first (:func:`open_missing`, the
``open_control`` round trip of :mod:`.open_control`), as the executor opens a
customer's counter.

**Refusals.** Every count a plan's reads took is recorded on its
:class:`~.reading.Reading` (``counted``). A plan that refuses (out of stock,
a pool holding too little) may have been read while another operation on the
shared account committed (its balance read before, its history after); the
executor then compares the counters (:func:`moved`) and reads and plans again
instead of refusing.

Worked example: MUG-BLUE read with 4 operations on its counter; a redemption
takes one unit::

    catalogue:MUG-BLUE:stock     -1 UNITS → catalogue:MUG-BLUE:delivered  +1
    catalogue:MUG-BLUE:sequence  -1 CTL   → program:control:sequence      +1  (may go down to -5)
"""

from __future__ import annotations

from typing import Mapping

from ..chart import Chart
from ..numscript import Catalogue, VarValue, monetary
from ..types import AccountState, TransactionPlan
from .open_control import open_control
from .reading import Reading


def _count(state: AccountState | None, asset: str) -> int | None:
    volume = None if state is None else state.volumes.get(asset)
    return None if volume is None else -volume.balance


def read_count(reading: Reading, address: str) -> int | None:
    """Operations counted so far on the counter ``address`` (≥ 0); None when it has no control-asset balance row.

    One account read (or the reading's snapshot); the count is recorded in ``reading.counted``.
    """

    count = _count(reading.account_now(address), reading.chart.control_asset)
    reading.counted[address] = count
    return count


def moved(reading: Reading, counted: Mapping[str, int | None]) -> bool:
    """Whether any counter of ``counted`` (address → count read) counts otherwise now: one listing, False for none."""

    if not counted:
        return False
    asset = reading.chart.control_asset
    now = {state.address: _count(state, asset) for state in reading.ledger.accounts(list(counted))}
    return any(now.get(address) != count for address, count in counted.items())


def bounded_step(chart: Chart, address: str, count: int | None) -> dict[str, VarValue]:
    """The vars of a take's counter leg: one control unit from ``address``, its overdraft bounded by ``count`` + 1
    (``count`` None: no row yet, counted as 0)."""

    return {**unbounded_step(chart, address), "counter_expected": monetary(chart.control_asset, (count or 0) + 1)}


def unbounded_step(chart: Chart, address: str) -> dict[str, VarValue]:
    """The vars of an adding operation's counter leg: one control unit from ``address``, unbounded."""

    return {
        "counter_step": monetary(chart.control_asset, 1),
        "counter_sequence": address,
        "counter_counted": chart.sequence_counterpart(),
    }


def open_missing(chart: Chart, catalogue: Catalogue, address: str, count: int | None) -> list[TransactionPlan]:
    """The opening of the counter ``address`` when its read found no balance row (``count`` None), else nothing."""

    return [] if count is not None else [open_control(chart, catalogue, address)]


__all__ = ["bounded_step", "moved", "open_missing", "read_count", "unbounded_step"]
