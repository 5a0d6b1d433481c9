"""Loyalty operations: pure functions from a command to a Formance transaction plan.

Each module holds one operation: its command (a frozen pydantic model,
checked when made), and ``plan(command, chart, catalogue, <state>)`` returning
a :class:`~loyalty_accounts.types.TransactionPlan` (rendered script, vars,
reference, metadata). State the plan needs (bucket balances, the hold's
postings, the original earn) is read by the service and passed in as plain
typed values; nothing here talks to the ledger, reads a clock or keeps a
balance of its own.

=============  ==========================  ==============================================
operation      template(s)                 accounts moved
=============  ==========================  ==============================================
earn           earn                        issued shard → (clawback debt, then) pending or bucket
release        release                     pending → bucket of the same expiry
hold           hold                        buckets (FIFO) → hold
capture        capture                     hold → redeemed; remainder → its buckets
void           (none: a revert)            hold → the very buckets it came from
redeem         redeem                      buckets (FIFO) → redeemed
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
=============  ==========================  ==============================================

Earn also moves qualifying points (QPTS) from ``program:tiers:qualifying`` to
the customer's qualifying account of the order's date, and refund moves the
refunded share back: the tier is read from those accounts.

**Void is not a plan.** Voiding a hold is a revert of the hold's transaction
(``LedgerPort.revert``): Formance posts the exact mirror image, so every point
returns to the bucket it was taken from, with its expiry, and the hold account
is left at zero. A void of a captured hold fails (the hold account is empty),
and a second void is refused by the ledger (``ALREADY_REVERT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Mapping

from . import (
    adjust,
    capture,
    convert,
    earn,
    engage,
    exchange_in,
    exchange_out,
    expire,
    hold,
    open_counter,
    redeem,
    refund,
    release,
    transfer,
)
from .adjust import AdjustCommand
from .base import Command
from .capture import CaptureCommand
from .convert import ConvertCommand
from .earn import EarnCommand, EarnRecord
from .engage import EngageCommand
from .exchange_in import ExchangeInCommand
from .exchange_out import ExchangeOutCommand
from .expire import ExpireCommand
from .fifo import Allocation, BucketBalance
from .hold import HoldCommand
from .open_counter import OpenCounterCommand
from .redeem import RedeemCommand
from .refund import RefundCommand, RefundRecord
from .release import PendingBalance, ReleaseCommand
from .transfer import TransferCommand


@dataclass(frozen=True)
class OperationInfo:
    """An operation's name, command type, the templates it may use and its module."""

    name: str
    command: type[Command]
    templates: tuple[str, ...]
    module: ModuleType


def _info(module: ModuleType, command: type[Command], *templates: str) -> OperationInfo:
    return OperationInfo(name=command.operation, command=command, templates=templates, module=module)


OPERATIONS: Mapping[str, OperationInfo] = {
    info.name: info
    for info in (
        _info(earn, EarnCommand, earn.TEMPLATE),
        _info(release, ReleaseCommand, release.TEMPLATE),
        _info(hold, HoldCommand, hold.TEMPLATE),
        _info(capture, CaptureCommand, capture.TEMPLATE),
        _info(redeem, RedeemCommand, redeem.TEMPLATE),
        _info(expire, ExpireCommand, expire.TEMPLATE),
        _info(transfer, TransferCommand, transfer.TEMPLATE),
        _info(exchange_out, ExchangeOutCommand, exchange_out.TEMPLATE),
        _info(exchange_in, ExchangeInCommand, exchange_in.TEMPLATE),
        _info(convert, ConvertCommand, convert.TEMPLATE),
        _info(refund, RefundCommand, refund.TEMPLATE),
        _info(adjust, AdjustCommand, adjust.CREDIT_TEMPLATE, adjust.DEBIT_TEMPLATE),
        _info(engage, EngageCommand, engage.TEMPLATE),
        _info(open_counter, OpenCounterCommand, open_counter.TEMPLATE),
    )
}

__all__ = [
    "OPERATIONS",
    "OperationInfo",
    "Command",
    "BucketBalance",
    "Allocation",
    "PendingBalance",
    "EarnRecord",
    "RefundRecord",
    "EarnCommand",
    "EngageCommand",
    "OpenCounterCommand",
    "ReleaseCommand",
    "HoldCommand",
    "CaptureCommand",
    "RedeemCommand",
    "ExpireCommand",
    "TransferCommand",
    "ExchangeOutCommand",
    "ExchangeInCommand",
    "ConvertCommand",
    "RefundCommand",
    "AdjustCommand",
]
