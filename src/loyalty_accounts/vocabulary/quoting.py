"""How an error message repeats a value it refuses: quoted, on one line, and short.

``quoted("c 1")`` → ``'c 1'``; a string longer than :data:`QUOTED_AT_MOST`
characters is cut there and its length given (``'9999…' … (230 characters)``),
so that a pasted file or a runaway argument never turns a one-line error into
a screenful. Control characters are escaped by ``repr`` (a newline shows as
``\\n``): the message stays one line. An email or a phone number typed in the
wrong place is not repeated at all (``(a value that looks like an email, not
repeated)``): error messages reach logs, and logs must not hold personal data.
"""

from __future__ import annotations

from .personal_data import contact_not_repeated

QUOTED_AT_MOST = 40
"""Characters of a refused value a message repeats: a longer one is cut there and its length given."""


def quoted(value: object) -> str:
    """``value`` as a message repeats it: ``'c-42'``; a long string cut (``'xxxx…'… (300 characters)``)."""

    hidden = contact_not_repeated(value) if isinstance(value, str) else None
    if hidden is not None:
        return f"({hidden})"
    if isinstance(value, str):
        return repr(value) if len(value) <= QUOTED_AT_MOST else f"{value[:QUOTED_AT_MOST]!r}… ({len(value)} characters)"
    text = repr(value)  # a list or a mapping: its repr cut, with the length of that repr
    return text if len(text) <= QUOTED_AT_MOST else f"{text[:QUOTED_AT_MOST]}… ({len(text)} characters in all)"


__all__ = ["QUOTED_AT_MOST", "quoted"]
