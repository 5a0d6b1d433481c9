"""The shared spend step: FIFO from a customer's buckets spendable on the command's programme day."""

from __future__ import annotations

import pytest
from opsupport import AT, buckets, d

from loyalty_accounts.errors import InsufficientPoints
from loyalty_accounts.operations.fifo import Allocation
from loyalty_accounts.operations.spend import spend_vars, take


def test_take_allocates_soonest_expiry_first_and_skips_a_bucket_due_today(chart):
    held = buckets(noexpiry=40, d20260601=10, d20260930=50)

    assert take(chart, held, customer="c42", points=70, at=AT) == (
        Allocation(expiry=d("2026-09-30"), points=50),
        Allocation(expiry=None, points=20),
    )


def test_spend_vars_are_the_points_the_ordered_buckets_and_what_each_gives(chart):
    vars_ = spend_vars(chart, buckets(noexpiry=40, d20260930=50), customer="c42", points=70, at=AT)

    assert vars_ == {
        "points": "PTS 70",
        "taken": ["PTS 50", "PTS 20"],
        "buckets": ["customers:c42:points:20260930", "customers:c42:points:noexpiry"],
    }


def test_spend_vars_refuse_more_than_the_spendable_buckets_hold(chart):
    with pytest.raises(InsufficientPoints, match="customer c42 has 50 spendable points; 60 needed"):
        spend_vars(chart, buckets(d20260601=10, d20260930=50), customer="c42", points=60, at=AT)
