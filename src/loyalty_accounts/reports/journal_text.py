"""A :class:`~.journal.Journal` written as beancount, hledger or CSV text: deterministic (same journal, same bytes).

Layout, in every format: the commodity and account declarations on the opening date, the opening
balances (one entry against the opening-balances account), the entries sorted by timestamp then
transaction id, each linked to its ledger transaction ids (beancount ``^ledger-tx-N`` links and
``ledger_tx`` metadata, hledger ``ledger-tx`` tags, a CSV column), then one balance assertion per
asserted liability account as at the period end (beancount ``balance`` on the next day, which checks
the balance before that day's entries, with a zero tolerance; hledger a zero-amount posting with ``= balance``). Amounts are
written with the currency's decimals, never in exponent notation.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from .journal import Journal, JournalEntry, JournalLine

__all__ = ["JOURNAL_FORMATS", "JournalFormat", "render_journal"]

JournalFormat = Literal["beancount", "hledger", "csv"]
JOURNAL_FORMATS: tuple[str, ...] = ("beancount", "hledger", "csv")


def _amount(value: Decimal) -> str:
    return f"{value:f}"


def _quoted(text: str) -> str:
    """A beancount string: backslashes and quotes escaped, one line."""

    flat = " ".join(text.split())
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _plain(text: str) -> str:
    """hledger description text: one line, no ``;`` (which starts a comment) and no ``|`` (payee separator)."""

    return " ".join(text.split()).replace(";", ",").replace("|", "/")


def _header(journal: Journal, comment: str) -> list[str]:
    return [
        f"{comment} loyalty-accounts journal of {journal.programme}: ledger transactions dated in "
        f"({journal.start.isoformat()}, {journal.end.isoformat()}], in {journal.currency}",
        "",
    ]


def _width(journal: Journal) -> int:
    return max(len(name) for name in journal.accounts) + 2


def _postings(lines: tuple[JournalLine, ...], currency: str, width: int, indent: str) -> list[str]:
    return [f"{indent}{line.account:<{width}}{_amount(line.amount):>14} {currency}" for line in lines]


def _beancount(journal: Journal) -> str:
    cur, width, opened = journal.currency, _width(journal), journal.opening_date.isoformat()
    out = _header(journal, ";")
    out += [f'option "operating_currency" "{cur}"', "", f"{opened} commodity {cur}", ""]
    out += [f"{opened} open {name} {cur}" for name in journal.accounts] + [""]
    if journal.opening:
        out.append(f'{opened} * "opening" {_quoted("balances at " + journal.start.isoformat())}')
        out += _postings(journal.opening, cur, width, "  ") + [""]
    for entry in journal.entries:
        links = " ".join(f"^ledger-tx-{tx}" for tx in entry.transaction_ids)
        out.append(f"{entry.date.isoformat()} * {_quoted(entry.operation)} {_quoted(entry.reference or '')} {links}")
        out.append(f'  ledger_tx: "{" ".join(str(tx) for tx in entry.transaction_ids)}"')
        out.append(f'  timestamp: "{entry.timestamp.isoformat()}"')
        out += _postings(entry.lines, cur, width, "  ") + [""]
    asserted = (journal.closing_date + timedelta(days=1)).isoformat()
    # An explicit zero tolerance: beancount would otherwise let a balance off by one cent pass.
    out += [f"{asserted} balance {line.account:<{width}}{_amount(line.amount):>14} ~ 0 {cur}" for line in journal.closing]
    return "\n".join(out) + "\n"


def _hledger_entry(entry: JournalEntry, currency: str, width: int) -> list[str]:
    tags = ", ".join(
        [*(f"ledger-tx:{tx}" for tx in entry.transaction_ids), f"timestamp:{entry.timestamp.isoformat()}"]
    )
    head = f"{entry.date.isoformat()} * {_plain(entry.operation)} | {_plain(entry.reference or '')}  ; {tags}"
    return [head, *_postings(entry.lines, currency, width, "    "), ""]


def _hledger(journal: Journal) -> str:
    cur, width, opened = journal.currency, _width(journal), journal.opening_date.isoformat()
    out = _header(journal, ";")
    out += [f"commodity 1000.00 {cur}", ""]
    out += [f"account {name}" for name in journal.accounts] + [""]
    if journal.opening:
        out.append(f"{opened} * opening | balances at {journal.start.isoformat()}")
        out += _postings(journal.opening, cur, width, "    ") + [""]
    for entry in journal.entries:
        out += _hledger_entry(entry, cur, width)
    if journal.closing:
        out.append(f"{journal.closing_date.isoformat()} * closing | balances at {journal.end.isoformat()}")
        out += [
            f"    {line.account:<{width}}{'0':>14} {cur} = {_amount(line.amount)} {cur}" for line in journal.closing
        ]
    return "\n".join(out) + "\n"


CSV_COLUMNS: tuple[str, ...] = (
    "row", "date", "timestamp", "ledger_tx", "operation", "reference", "account", "amount", "currency",
)


def _csv(journal: Journal) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    cur = journal.currency
    for line in journal.opening:
        writer.writerow(["opening", journal.opening_date.isoformat(), journal.start.isoformat(), "", "", "", line.account, _amount(line.amount), cur])
    for entry in journal.entries:
        ids = " ".join(str(tx) for tx in entry.transaction_ids)
        for line in entry.lines:
            writer.writerow([
                "entry", entry.date.isoformat(), entry.timestamp.isoformat(), ids, entry.operation,
                entry.reference or "", line.account, _amount(line.amount), cur,
            ])
    for line in journal.closing:
        writer.writerow(["balance", journal.closing_date.isoformat(), journal.end.isoformat(), "", "", "", line.account, _amount(line.amount), cur])
    return buffer.getvalue()


def render_journal(journal: Journal, fmt: str) -> str:
    """The journal as text in ``fmt`` (``beancount``, ``hledger`` or ``csv``); ValueError for another format."""

    renderers = {"beancount": _beancount, "hledger": _hledger, "csv": _csv}
    if fmt not in renderers:
        raise ValueError(f"unknown journal format {fmt!r}: choose one of {', '.join(JOURNAL_FORMATS)}")
    return renderers[fmt](journal)
