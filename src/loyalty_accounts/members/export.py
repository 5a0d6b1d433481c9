"""A member's data-access file: what the programme holds about them, as one JSON document.

``member export`` gathers, for a subject access request (or a portability one):

- the **profile** and its **consents**, opened from the registry (None once the member is forgotten);
- the full points **statement** from the ledger, from the beginning to now
  (:func:`~loyalty_accounts.reports.statement.read_statement`): opening, every movement, closing,
  points expiring soon;
- the **tier history**: every tier change the member's earns recorded on the ledger (an earn's
  ``r_tier``, the tier it was priced at, and ``tier_after``), and the tier now. A tier lowered by the
  qualification window moving on is not an event the ledger records: the tier now shows it.

Reading the ledger comes first and posts nothing; the audit record of the export is written last, with
the file's content in hand (who, when, why, which member).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Literal, Mapping, TypeVar

from ..errors import UnknownEntity
from ..program import LoyaltyProgram
from ..reports import FinanceReports
from ..reports.statement import CustomerStatement
from ..rules import TierStatus
from ..services.earning import tier_change_of
from ..types import PostedTransaction
from ..vocabulary.frozen import Frozen
from .profile import Consent
from .service import Member, MemberRegistry
from .store import AuditRecord

FORMAT = "loyalty-accounts member data v1"
T = TypeVar("T")


class TierEvent(Frozen):
    """A tier change an earn recorded: at the order's instant, from the tier it was priced at to the one after."""

    at: datetime
    transaction_id: int
    order_id: str | None
    before: str
    after: str
    direction: Literal["upgrade", "downgrade", "changed"]


class DataAccessFile(Frozen):
    """Everything the programme holds about one member (see the module docstring)."""

    format: Literal["loyalty-accounts member data v1"] = FORMAT
    member_id: str
    holder: str
    state: Literal["active", "forgotten"]
    exported_at: datetime
    audit_id: int
    created_at: datetime
    forgotten_at: datetime | None
    profile: Mapping[str, str | None] | None
    consents: Mapping[str, Consent]
    statement: CustomerStatement | None
    tier_history: tuple[TierEvent, ...]
    tier_now: TierStatus | None

    def document(self) -> dict[str, Any]:
        """The file's JSON value: instants in ISO 8601, decimals as strings."""

        return self.model_dump(mode="json")


def tier_history(transactions: list[PostedTransaction]) -> tuple[TierEvent, ...]:
    """The tier changes recorded by the earns among ``transactions``, in order of the orders' instants."""

    events = []
    for tx in sorted(transactions, key=lambda t: (t.timestamp, t.id)):
        change = tier_change_of(tx)
        if change is not None:
            events.append(
                TierEvent(
                    at=tx.timestamp,
                    transaction_id=tx.id,
                    order_id=tx.metadata.get("order_id"),
                    before=change.before,
                    after=change.after,
                    direction=change.direction,
                )
            )
    return tuple(events)


def export_member(
    registry: MemberRegistry,
    program: LoyaltyProgram,
    reports: FinanceReports,
    member: str,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> DataAccessFile:
    """The data-access file of ``member`` as of ``now``, audited as an export by ``actor`` for ``reason``.

    A member the ledger has never seen (no points yet) has no statement and no tier. Raises what
    :meth:`MemberRegistry.record_access` raises (InvalidCommand, UnknownEntity, RegistryUnavailable) and
    LedgerUnavailable; nothing is audited when the ledger cannot be read.
    """

    registry.show(member)  # an unknown id is refused before the ledger is read
    statement = _known(lambda: reports.statement(member, None, now))
    history = _known(lambda: program.history(member)) or []
    tier = _known(lambda: program.tier(member, now)) if program.rules is not None else None
    opened, record = registry.record_access(member, actor=actor, reason=reason)
    return data_access_file(opened_fields(opened), record, statement=statement, history=history, tier_now=tier, now=now)


def opened_fields(member: Member) -> dict[str, Any]:
    """The parts of an opened :class:`~.service.Member` the file shows."""

    profile = member.profile
    return {
        "member_id": member.member_id,
        "holder": member.holder,
        "state": member.state,
        "created_at": member.created_at,
        "forgotten_at": member.forgotten_at,
        "profile": profile.model_dump(exclude={"consents"}) if profile is not None else None,
        "consents": dict(profile.consents) if profile is not None else {},
    }


def data_access_file(
    member: Mapping[str, Any],
    record: AuditRecord,
    *,
    statement: CustomerStatement | None,
    history: list[PostedTransaction],
    tier_now: TierStatus | None,
    now: datetime,
) -> DataAccessFile:
    """The file from what was read (pure)."""

    return DataAccessFile(
        **member,
        exported_at=now,
        audit_id=record.audit_id,
        statement=statement,
        tier_history=tier_history(history),
        tier_now=tier_now,
    )


def _known(read: Callable[[], T]) -> T | None:
    """What ``read`` returns, or None when the ledger has never seen the customer."""

    try:
        return read()
    except UnknownEntity:
        return None
