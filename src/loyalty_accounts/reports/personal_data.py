"""Reconciliation's ``personal_data`` check: nothing the ledger holds looks like personal data.

Every transaction's reference and metadata, and every account address its postings name (so every
account the ledger holds that ever moved), are screened by pattern (emails, phone numbers:
:mod:`loyalty_accounts.vocabulary.personal_data`) and, when a member registry is wired in, against its
digests of members' emails, phones and names. The check reads nothing itself: it is given the
transactions reconcile has already listed. It fails naming the transaction and the field, or the
account's transaction and posting, never the value.
"""

from __future__ import annotations

from typing import Sequence

from ..types import PostedTransaction
from ..vocabulary.personal_data import PersonalDataPort, screened
from .check import Check, verdict

NAME = "personal_data"


def _written(tx: PostedTransaction) -> dict[str, str]:
    values = {f"metadata {key}": value for key, value in tx.metadata.items()}
    if tx.reference is not None:
        values["reference"] = tx.reference
    for index, posting in enumerate(tx.postings):
        values[f"posting {index} source"] = posting.source
        values[f"posting {index} destination"] = posting.destination
    return values


def check_personal_data(transactions: Sequence[PostedTransaction], port: PersonalDataPort | None = None) -> Check:
    """Fails on each transaction of ``transactions`` holding something that looks like personal data:
    ``tx #12: metadata reward looks like an email``; by pattern, and by ``port`` (the registry) when given."""

    breaks = []
    for tx in sorted(transactions, key=lambda t: t.id):
        found = screened(_written(tx), port)
        breaks.extend(f"tx #{tx.id}: {where} looks like {'an' if kind == 'email' else 'a'} {kind}" for where, kind in sorted(found.items()))
    against = "patterns and the member registry" if port is not None else "patterns (no member registry configured)"
    return verdict(NAME, f"{len(transactions)} transaction(s) screened for personal data by {against}", breaks)
