"""Value types shared by the domain layer and the ledger client.

Points are integers; money travels as integer minor units of an asset whose
precision the asset name carries (``USD/2``: 1234 means 12.34 USD).
A :class:`TransactionPlan` is what an operation produces and the ledger client
sends; a :class:`PostedTransaction` is what the ledger answers.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Mapping

from pydantic import Field

from .vocabulary.amounts import Asset
from .vocabulary.frozen import Frozen

Address = str


class Posting(Frozen):
    source: Address
    destination: Address
    amount: int = Field(ge=0)
    asset: Asset


class TransactionPlan(Frozen):
    """One balanced Formance transaction, ready to post.

    ``script`` is the Numscript text rendered from a catalogue template and
    ``vars`` its variables as Formance expects them (strings). ``reference`` is
    the business key, unique per ledger; ``command_hash`` fingerprints the
    command that produced the plan so that a replay can be told apart from a
    different operation reusing the same key.
    """

    operation: str
    template: str
    script: str
    vars: Mapping[str, str]
    reference: str
    command_hash: str
    metadata: Mapping[str, str] = Field(default_factory=dict)
    timestamp: datetime | None = None

    def all_metadata(self) -> dict[str, str]:
        meta = dict(self.metadata)
        meta["operation"] = self.operation
        meta["template"] = self.template
        meta["command_hash"] = self.command_hash
        return meta


class PostedTransaction(Frozen):
    id: int
    reference: str | None = None
    timestamp: datetime
    postings: tuple[Posting, ...]
    metadata: Mapping[str, str] = Field(default_factory=dict)
    reverted: bool = False
    replayed: bool = False
    """True when the ledger already held this transaction and nothing new was posted."""
    inserted_at: datetime | None = None
    """When the ledger recorded it, by the ledger's clock (``timestamp`` is when it is dated, which the
    poster may choose); None when the ledger did not say."""


class Volume(Frozen):
    input: int
    output: int

    @property
    def balance(self) -> int:
        return self.input - self.output


class AccountState(Frozen):
    address: Address
    metadata: Mapping[str, str] = Field(default_factory=dict)
    volumes: Mapping[Asset, Volume] = Field(default_factory=dict)

    def balance(self, asset: Asset) -> int:
        vol = self.volumes.get(asset)
        return vol.balance if vol else 0


class VolumeRow(Frozen):
    """Movement of one account (or address prefix) in one asset over a window."""

    account: Address
    asset: Asset
    input: int
    output: int
    balance: int


def command_fingerprint(payload: Mapping[str, Any]) -> str:
    """Stable hash of a command's business content (key order does not matter)."""

    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
