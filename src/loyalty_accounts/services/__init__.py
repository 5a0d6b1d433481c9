"""The programme's services over one ledger, grouped by family, and the executor they share.

- :mod:`.executor`: the generic executor running any registry entry
  (:mod:`loyalty_accounts.operations`): read → plan → post → re-plan, exactly once;
- :mod:`.earning`: earn, quote, engage, explain;
- :mod:`.spending`: hold, capture, void, redeem, transfer, exchange out and in, convert, adjust;
- :mod:`.refunds`: refund;
- :mod:`.sweeps`: release, expire, void of lapsed holds;
- :mod:`.tiers`: tier, qualification window, qualifying points;
- :mod:`.accounts`: set-up, balance, history, programme accounts;
- :mod:`.results`: what they answer.

Every public method taking a bare identifier (customer id, hold id, order id)
checks it with :mod:`loyalty_accounts.vocabulary.ids` before reading anything:
an empty or malformed id is InvalidCommand (exit 2), never an address filter
matching every customer. :class:`loyalty_accounts.program.LoyaltyProgram` is
the facade over them all.
"""
