"""Earning rules: what an order or an engagement event is worth, and which tier a customer is in.

``rules.yaml`` is data with a ``version``; :func:`load_rules` validates it
(pydantic for shape, then the cross-field rules of :mod:`.model`, each
reported with the file, field path and line, as :mod:`loyalty_accounts.chart`
does). Everything here is pure: the service reads the ledger (tier volumes,
campaign usage, engagement counts) and passes plain numbers in; nothing reads
a clock.

- :mod:`.model`: the file's shape (:class:`Rules`, :class:`Campaign`,
  :class:`Tier`, :class:`EngagementRule`, ...), the :class:`Order` to price,
  and the rules that span fields;
- :mod:`.loader`: :func:`load_rules`, :func:`parse_rules`,
  :func:`check_against_chart`;
- :mod:`.pricing`: :func:`quote` and its :class:`EarnBreakdown` (the pricing
  order and a worked example are in its docstring);
- :mod:`.tiers`: :func:`tier_for`, :func:`qualification_window`,
  :func:`tier_change`;
- :mod:`.engagement`: :func:`engagement_points`;
- :mod:`.versions`: :func:`compare_versions`;
- :mod:`.catalogue`: the reward catalogue (:class:`RewardCatalogue`: reward types
  with their rate and minimum, rewards and their exact points prices).
"""

from .catalogue import Reward, RewardCatalogue, RewardType
from .engagement import EngagementLimitReached, engagement_points
from .loader import check_against_chart, default_rules_path, load_rules, parse_rules
from .model import (
    MAX_ORDER_AMOUNT,
    MAX_STACKED_CAMPAIGNS,
    Campaign,
    CurrencyRule,
    EngagementRule,
    Order,
    OrderDefaults,
    Qualification,
    RuleProblem,
    Rules,
    Tier,
    Tiers,
)
from .pricing import CampaignStep, EarnBreakdown, ExplanationLine, quote
from .tiers import TierStatus, first_qualifying_day, qualification_window, tier_change, tier_for
from .versions import VersionComparison, compare_versions

__all__ = [
    "MAX_ORDER_AMOUNT",
    "MAX_STACKED_CAMPAIGNS",
    "Campaign",
    "CampaignStep",
    "CurrencyRule",
    "EarnBreakdown",
    "EngagementLimitReached",
    "EngagementRule",
    "ExplanationLine",
    "Order",
    "OrderDefaults",
    "Qualification",
    "Reward",
    "RewardCatalogue",
    "RewardType",
    "RuleProblem",
    "Rules",
    "Tier",
    "TierStatus",
    "Tiers",
    "VersionComparison",
    "check_against_chart",
    "compare_versions",
    "default_rules_path",
    "engagement_points",
    "first_qualifying_day",
    "load_rules",
    "parse_rules",
    "qualification_window",
    "quote",
    "tier_change",
    "tier_for",
]
