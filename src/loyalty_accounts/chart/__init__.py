"""The chart of accounts: the one place account addresses and programme policy come from.

``chart_of_accounts.yaml`` is loaded, validated (pydantic for shape, then the
cross-field rules below) and turned into a :class:`Chart`. Code never writes an
address by hand: it asks the chart (``chart.bucket("c42", date(2027, 1, 1))``
gives ``customers:c42:points:20270101``), and every variable segment is
checked against its pattern on the way, so only addresses the chart declares
can be built.

The same chart becomes the ledger schema, the body of
``POST /v2/{ledger}/schemas/{version}``: ``{"chart": {...}}``, nested segments
with ``$name`` for a variable segment, its ``.pattern`` and ``.self: {}`` for a
segment that is an account and has children. The schema carries the chart
only, no transaction templates: a schema with templates obliges every
transaction to name one, and the scripts here are rendered with ordered-source
lists whose length varies per call (see :mod:`loyalty_accounts.numscript`), so
they are sent as plain Numscript with their variables. The server checks
every posting's accounts against the chart (strict enforcement); amounts,
assets and "may go negative" are not expressible in a v2.4 schema, and stay
with the Numscript overdraft clauses, which :mod:`loyalty_accounts.operations`
checks against ``may_go_negative`` here.

Rules beyond field types (each reported with the field path and line):

- every address segment is fixed (``[a-zA-Z0-9_-]+``) or ``{name}`` with a
  declared segment; the first segment is fixed;
- a segment pattern is anchored (``^...$``) and uses only syntax Go's RE2 and
  Python agree on (the ledger matches with an unanchored ``regexp.Match``);
- at one level of the address tree there is either one variable segment or
  fixed segments, never both and never two variables (so an address maps to
  one account kind);
- every account kind the operations use is declared; ``world`` is declared;
- assets are valid Formance assets, points (and the qualifying and award
  counters) have no decimals, every role and partner uses an asset of its own.

The chart prices nothing: what an order or an engagement event earns comes
from the rules file (:mod:`loyalty_accounts.rules`). The chart only says in
which currencies orders are accepted and with how many decimals, the facts
the books need to record an amount.
"""


from .model import Chart, default_chart_path, load_chart
from .spec import (
    AccountKind,
    ChartSpec,
    ParsedAddress,
    Partner,
    Policies,
    Pool,
    address_matches,
    date_segment,
    parse_date_segment,
)
from .point_kinds import BASE, BONUS, TRANSFERRED, Period, PointKind, expiry_of, expiry_segment, parse_expiry_segment

__all__ = [
    "Chart",
    "load_chart",
    "default_chart_path",
    "ChartSpec",
    "AccountKind",
    "ParsedAddress",
    "Partner",
    "Policies",
    "Pool",
    "address_matches",
    "date_segment",
    "parse_date_segment",
    "BASE",
    "BONUS",
    "TRANSFERRED",
    "Period",
    "PointKind",
    "expiry_of",
    "expiry_segment",
    "parse_expiry_segment",
]
