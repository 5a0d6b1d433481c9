"""The chart's ``general_ledger`` section: which general-ledger (GL) account each ledger account rolls up to.

Shape (the pydantic models) and the cross-checks :class:`~loyalty_accounts.chart.Chart` runs on
load. The journal (:mod:`loyalty_accounts.reports.journal`) reads it; nothing else does.

Each account kind holding a valued asset (the points asset, valued at ``point_value``, or the money
asset) names its GL account and its *side*: ``credit`` when a positive ledger balance is something
the programme owes (a customer's points or store credit: a credit in the GL), ``debit`` when it is
something owed to the programme or spent by it (a partner's settlement, exchange cost). A posting of
``x`` from account S to account D moves ``x × price`` out of GL(S) and into GL(D) with the signs
their sides give; a posting between kinds of different sides would not balance and is refused.
``operations`` overrides the GL account of a kind for one operation's transactions (an outbound
exchange's settlement is a partner payable, an inbound one's a receivable). Kinds with an
``{expiry}`` segment may name a ``non_current`` account: their points expiring more than
``current_days`` after the period end (or never) are classified there, as at the period end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Callable, Literal, Mapping, Sequence

from pydantic import Field, StringConstraints

from ..errors import ChartError
from ..vocabulary.amounts import asset_precision
from ..vocabulary.frozen import Frozen

if TYPE_CHECKING:  # pragma: no cover
    from .spec import AccountKind, Programme

__all__ = ["GL_ACCOUNT_PATTERN", "GeneralLedgerSpec", "GlAccountSpec", "check_general_ledger", "VALUED_ROLES"]

GL_ACCOUNT_PATTERN = r"^(Assets|Liabilities|Equity|Income|Expenses)(:[A-Z][A-Za-z0-9-]*)+$"
"""A GL account name both beancount and hledger accept: a root type, then capitalised components."""

GlAccount = Annotated[str, StringConstraints(pattern=GL_ACCOUNT_PATTERN)]
VALUED_ROLES: tuple[str, ...] = ("points", "money")
"""The asset roles the general ledger carries; memo assets (qualifying, awards, control, campaign) and
partners' own points are not money of the programme and stay out of it."""


class GlAccountSpec(Frozen):
    account: GlAccount
    side: Literal["credit", "debit"] = "credit"
    non_current: GlAccount | None = None


class GeneralLedgerSpec(Frozen):
    """The validated ``general_ledger`` section."""

    current_days: Annotated[int, Field(ge=1)] = 365
    opening_balances: GlAccount = "Equity:Loyalty:OpeningBalances"
    accounts: dict[str, GlAccountSpec]
    operations: dict[str, dict[str, GlAccount]] = Field(default_factory=dict)


Fail = Callable[[Sequence[str | int], str], ChartError]


def check_general_ledger(
    spec: GeneralLedgerSpec, kinds: Mapping[str, "AccountKind"], programme: "Programme", fail: Fail
) -> None:
    """Every kind holding points or money is mapped, once, to a GL account; raise ChartError (one line) if not.

    Also: ``non_current`` only on kinds with an ``{expiry}`` segment, overrides only of mapped kinds, and
    a ``point_value`` no finer than the money asset's precision (every GL amount is then exact in the
    currency's minor units: the journal never rounds).
    """

    for name in spec.accounts:
        if name not in kinds:
            raise fail(("general_ledger", "accounts", name), f"no account kind {name!r} in accounts")
    for name, kind in kinds.items():
        valued = any(role in VALUED_ROLES for role in kind.assets)
        if valued and name not in spec.accounts:
            raise fail(("general_ledger", "accounts"), f"account kind {name!r} holds points or money: map it to a GL account")
        mapped = spec.accounts.get(name)
        if mapped is not None and mapped.non_current is not None and "expiry" not in kind.variables:
            raise fail(("general_ledger", "accounts", name, "non_current"), "only kinds with an {expiry} segment split current / non-current")
    for operation, overrides in spec.operations.items():
        for name in overrides:
            if name not in spec.accounts:
                raise fail(("general_ledger", "operations", operation, name), f"{name!r} is not a mapped account kind")
    exponent = programme.point_value.normalize().as_tuple().exponent
    decimals = max(0, -int(exponent))
    if decimals > asset_precision(programme.money_asset):
        raise fail(
            ("programme", "point_value"),
            f"finer than {programme.money_asset}: the general ledger books whole minor units and never rounds",
        )
