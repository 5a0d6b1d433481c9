"""Loyalty operations: pure functions from a command to a Formance transaction plan, and their registry.

Each module holds one operation: its command (a frozen pydantic model,
checked when made), ``plan(command, chart, catalogue, <state>)`` returning
a :class:`~loyalty_accounts.types.TransactionPlan` (rendered script, vars,
reference, metadata), and its registry entry ``OPERATION``
(:mod:`.entry`): the templates, the ``read`` giving the state the plan needs
(bucket balances, the hold's postings, the original earn) through a read-only
:class:`~.reading.Reading`, and the metadata it writes (:class:`~.entry.Writes`,
with its business key). Plans are pure: they never talk to the ledger, read a
clock or keep a balance of their own; the services' executor reads, plans and
posts.

:data:`OPERATIONS` is found, not listed: :func:`discover_operations` imports
every module of this package and registers each ``OPERATION`` it finds
(modules without one, such as :mod:`.base`, :mod:`.fifo`, :mod:`.reading`,
:mod:`.spend` or :mod:`.exchange`, are skipped). An operation
is added by one module (command, read, pure plan, ``OPERATION``) plus its
``numscript/<template>.num``; nothing else is edited. Plans share their
steps rather than repeat them: :func:`~.base.plan_command` (or
:func:`~.base.plan_sweep`) names and fingerprints the transaction, and a
spend from a customer's buckets is :mod:`.spend`'s.

=============  ==========================  ==============================================
operation      template(s)                 accounts moved
=============  ==========================  ==============================================
earn           earn                        issued shard → (clawback debt, then) pending or bucket
release        release                     pending → bucket of the same expiry
hold           hold                        buckets (FIFO) → hold
capture        capture                     hold → redeemed; remainder → its buckets
void           void                        hold → the very buckets it came from
redeem         redeem                      buckets (FIFO) → redeemed
               redeem_reward               a physical catalogue reward: buckets (FIFO) → redeemed;
                                           one unit of its stock → delivered
expire         expire                      due bucket (all of it) → expired
transfer       transfer                    sender's bucket d → receiver's bucket d, per d
exchange_out   exchange_out                buckets → partner exchanged; partner points
                                           issued → delivered; settlement → exchange cost
exchange_in    exchange_in                 partner points issued → received; issued
                                           shard → bucket; exchange revenue → settlement
convert        convert                     buckets → converted; credit issued → customer credit
refund         refund                      pending, buckets, then clawback or written_off →
                                           issued shard
adjust         adjust_credit/adjust_debit  adjustments → bucket, or buckets → adjustments
engage         engage                      issued shard → (clawback debt, then) bucket;
                                           customer's award counters → engagement awarded
open_counter   open_counter                world → a never-used award counter → world, one
                                           unit (gives the counter a balance row to lock)
open_control   open_control                world → a never-used control account → world, one
                                           unit (a sequence counter or the closed-period mark)
pool_contrib.  pool_contribute             partner's pool contributed → its pool funds; its
                                           pool paid → partner settlement (the price)
pool_earn      pool_earn                   issued shard → bucket; each member partner's pool
                                           funds → its awarded (the charges, :mod:`.pool`)
pool_redeem    pool_redeem                 buckets (FIFO) → redeemed; each member partner's
                                           pool funds → its redeemed
restock        restock                     a physical reward's restocked → its stock (units)
=============  ==========================  ==============================================

Every plan but the two openings leaves the executor with the guard's legs
appended (:mod:`.guard`: the customers' sequence counters and the
closed-period mark, checked by the ledger inside the post).

Earn also moves qualifying points (QPTS) from ``program:tiers:qualifying`` to
the customer's qualifying account of the order's date, and refund moves the
refunded share back: the tier is read from those accounts.

**Void** moves back exactly what the hold moved into its account, to the
buckets it came from (so every point keeps its expiry), as a guarded
transaction of its own; it is not a revert, which would mirror the guard's
legs too (see :mod:`.void`). A void of a captured hold is refused, and a
second void is a replay.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module
from types import MappingProxyType
from typing import Any, Mapping

from .adjust import AdjustCommand
from .base import RESERVED_METADATA, Command
from .capture import CaptureCommand
from .convert import ConvertCommand
from .earn import EarnCommand, EarnRecord
from .engage import EngageCommand
from .entry import Operation, Sweep, Writes
from .exchange_in import ExchangeInCommand
from .exchange_out import ExchangeOutCommand
from .expire import DatedBucket, ExpireCommand
from .fifo import Allocation, BucketBalance
from .hold import HoldCommand
from .open_control import OpenControlCommand
from .open_counter import OpenCounterCommand
from .reading import AsOf, Reading
from .redeem import RedeemCommand
from .refund import RefundCommand, RefundRecord
from .release import PendingBalance, ReleaseCommand
from .timeline import Timeline
from .transfer import TransferCommand
from .usage_catch_up import UsageCatchUpCommand
from .void import VoidCommand

Registered = Operation[Any, Any] | Sweep[Any, Any]
"""A registry entry: an operation posting one transaction per command, or a programme-wide sweep."""


def discover_operations(package: str) -> Mapping[str, Registered]:
    """The registry entries of the modules of ``package`` (a dotted name), by operation name.

    Imports every module of the package, in the order of their names, and
    registers the ``OPERATION`` of each module that defines one; a module
    without one is skipped.

    Raises TypeError when an ``OPERATION`` is not an :class:`Operation` or
    :class:`Sweep`, or names an operation already registered.
    """

    entries: dict[str, Registered] = {}
    for module in sorted(pkgutil.iter_modules(import_module(package).__path__), key=lambda m: m.name):
        entry = getattr(import_module(f"{package}.{module.name}"), "OPERATION", None)
        if entry is None:
            continue
        if not isinstance(entry, (Operation, Sweep)) or entry.name in entries:
            raise TypeError(f"{package}.{module.name}.OPERATION must be a new Operation or Sweep, got {entry!r}")
        entries[entry.name] = entry
    return MappingProxyType(entries)


OPERATIONS: Mapping[str, Registered] = discover_operations(__name__)
"""Every operation's registry entry, by operation name (every module of this package defining ``OPERATION``)."""

__all__ = [
    "OPERATIONS",
    "discover_operations",
    "Registered",
    "Operation",
    "Sweep",
    "Writes",
    "RESERVED_METADATA",
    "Reading",
    "AsOf",
    "Timeline",
    "Command",
    "BucketBalance",
    "Allocation",
    "PendingBalance",
    "DatedBucket",
    "EarnRecord",
    "RefundRecord",
    "EarnCommand",
    "EngageCommand",
    "OpenCounterCommand",
    "OpenControlCommand",
    "ReleaseCommand",
    "HoldCommand",
    "CaptureCommand",
    "VoidCommand",
    "RedeemCommand",
    "ExpireCommand",
    "TransferCommand",
    "ExchangeOutCommand",
    "ExchangeInCommand",
    "ConvertCommand",
    "RefundCommand",
    "AdjustCommand",
    "UsageCatchUpCommand",
]
