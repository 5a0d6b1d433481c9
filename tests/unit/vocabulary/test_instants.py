from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from loyalty_accounts.errors import InvalidCommand
from loyalty_accounts.vocabulary.instants import day_bounds, parse_instant, stamp, utc

PARIS = ZoneInfo("Europe/Paris")


def test_an_instant_with_an_offset_is_that_instant_in_utc() -> None:
    assert parse_instant("2026-05-01T12:15:00+02:00", PARIS) == datetime(2026, 5, 1, 10, 15, tzinfo=timezone.utc)
    assert parse_instant("2026-05-01T10:15:00Z", PARIS) == datetime(2026, 5, 1, 10, 15, tzinfo=timezone.utc)


def test_a_bare_date_is_the_start_of_that_day_in_the_zone() -> None:
    assert parse_instant("2026-05-01", timezone.utc) == datetime(2026, 5, 1, tzinfo=timezone.utc)
    # Paris is UTC+2 in summer and UTC+1 in winter.
    assert parse_instant("2026-05-01", PARIS) == datetime(2026, 4, 30, 22, tzinfo=timezone.utc)
    assert parse_instant("2026-12-01", PARIS) == datetime(2026, 11, 30, 23, tzinfo=timezone.utc)


def test_the_day_the_clocks_go_back_has_25_hours() -> None:
    start, end = day_bounds(datetime(2026, 10, 25, 12, tzinfo=timezone.utc), PARIS)
    assert (start, end - start) == (datetime(2026, 10, 24, 22, tzinfo=timezone.utc), end - start)
    assert (end - start).total_seconds() == 25 * 3600
    assert parse_instant("2026-10-26", PARIS) == end


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-05-01T10:00:00", "has no UTC offset"),
        ("2026-05-01T10:00", "has no UTC offset"),
        ("2026-05-01Z", "not an ISO 8601 instant or date; write e.g. 2026-05-01T10:00:00Z"),
        ("2026-02-30", "not a calendar date"),
        ("yesterday", "not an ISO 8601 instant or date"),
        ("", "not an ISO 8601 instant or date"),
    ],
)
def test_anything_else_is_refused_naming_the_option(text: str, says: str) -> None:
    with pytest.raises(InvalidCommand) as caught:
        parse_instant(text, PARIS, what="--as-of")
    assert caught.value.message.startswith("--as-of: ")
    assert says in caught.value.message


@pytest.mark.parametrize(
    "text",
    [
        "2026-13-01T10:00:00Z", "2026-02-30T10:00:00Z", "2026-05-01T24:00:00Z", "2026-05-01T10:00:60Z", "2026-05-01Z",
        "yesterday", "", "9999-12-31T23:59:59", "9999-12-31Tnoon", "1969-07-20Tmoon", "1970-01-01T00:00:00", "0001-01-01T00:00:00",
    ],
)
def test_every_example_an_error_gives_is_itself_accepted(text: str) -> None:
    with pytest.raises(InvalidCommand) as caught:
        parse_instant(text, PARIS, what="ordered_at")
    examples = re.findall(r"write e\.g\. (\S+?),? or (\S+)", caught.value.message)
    assert examples, caught.value.message
    for example in examples[0]:
        assert parse_instant(example, PARIS) > datetime(1970, 1, 1, tzinfo=timezone.utc)
    bare = re.findall(r"(?:a bare date such as|or) (\d{4}-\d{2}-\d{2})\b", caught.value.message)
    for day in bare:
        assert parse_instant(day, PARIS) > datetime(1970, 1, 1, tzinfo=timezone.utc)


def test_the_advice_for_a_naive_time_names_the_zone_a_bare_date_uses() -> None:
    with pytest.raises(InvalidCommand, match=r"2026-05-01T10:00Z or 2026-05-01T10:00\+01:00 .*2026-05-01 is the start of that day in Europe/Paris"):
        parse_instant("2026-05-01T10:00", PARIS)


def test_references_and_utc_refuse_a_naive_instant() -> None:
    assert stamp(datetime(2026, 3, 1, 11, 15, tzinfo=ZoneInfo("Europe/Paris"))) == "20260301T101500Z"
    with pytest.raises(InvalidCommand, match="no time zone"):
        utc(datetime(2026, 3, 1))
    assert date(2026, 3, 1) == utc(datetime(2026, 3, 1, 0, 30, tzinfo=PARIS)).date() + (date(2026, 3, 1) - date(2026, 2, 28))


@pytest.mark.parametrize(
    "text", ["0001-01-01", "0001-01-01T00:00:00+01:00", "1970-01-01", "1969-12-31T23:59:59Z", "9999-12-31", "9999-12-31T23:59:59-05:00"]
)
def test_instants_the_ledger_cannot_keep_are_refused(text: str) -> None:
    # Formance reads Go's zero time (0001-01-01) as "no point in time": a report as of it would read the present.
    with pytest.raises(InvalidCommand, match="outside the instants the ledger keeps"):
        parse_instant(text, PARIS, what="--as-of")


def test_the_first_and_last_days_in_range_are_accepted() -> None:
    assert parse_instant("1970-01-01T00:00:00Z", PARIS) == datetime(1970, 1, 1, tzinfo=timezone.utc)
    # the same instant written as a bare date in a zone where it is midnight
    assert parse_instant("1970-01-01", timezone.utc) == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert parse_instant("9998-12-31", timezone.utc) == datetime(9998, 12, 31, tzinfo=timezone.utc)


UTC = timezone.utc


@pytest.mark.parametrize(
    "instant, zone, start, hours",
    [
        (datetime(2026, 5, 1, 23, 30, tzinfo=UTC), UTC, datetime(2026, 5, 1, tzinfo=UTC), 24),
        (datetime(2026, 5, 1, 23, 30, tzinfo=UTC), PARIS, datetime(2026, 5, 1, 22, tzinfo=UTC), 24),  # already the 2nd in Paris
        (datetime(2026, 10, 25, 12, tzinfo=UTC), PARIS, datetime(2026, 10, 24, 22, tzinfo=UTC), 25),  # clocks go back
        (datetime(2026, 3, 29, 12, tzinfo=UTC), PARIS, datetime(2026, 3, 28, 23, tzinfo=UTC), 23),  # clocks go forward
    ],
)
def test_a_programme_day_follows_the_local_calendar(instant, zone, start, hours):
    assert day_bounds(instant, zone) == (start, start + timedelta(hours=hours))
