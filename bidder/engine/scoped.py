"""Read failures scoped to what they concern: one campaign, or one optional feature of the account.

A 400 from ``bids/min`` or from recommendations for one campaign says something about that campaign's
request, not about the account: that campaign's read is set aside for ``RETRY_AFTER`` (WB may count a 4xx
as ten requests against the limit, so it is not asked again every cycle) and the other campaigns are
read as usual; a campaign without WB's minimum bids only holds its bids (``evaluate._wait_for_rules``).
A 403 from an optional feature (search clusters: normquery; recommendations) means the feature is not
available to this account or token: the feature is turned off for the account (alerted once by the
cycle) and everything else goes on. Anything else is raised as before (the cycle maps it).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bidder.errors import AuthFailed, BadRequest, WBError

if TYPE_CHECKING:  # engine/view.py imports engine/positions.py, which uses this module
    from bidder.engine.view import AccountView

log = logging.getLogger("bidder.engine")

RETRY_AFTER = timedelta(hours=1)
OPTIONAL_FEATURES = frozenset({"clusters", "recommendations"})


def set_aside(view: AccountView, feature: str, advert_id: int, now: datetime) -> bool:
    """True while this campaign's ``feature`` read is set aside after a campaign-scoped failure."""
    failed = view.scoped_failures.get((feature, advert_id))
    return failed is not None and now - failed[0] < RETRY_AFTER


def absorb(view: AccountView, exc: WBError, feature: str, advert_id: int | None, now: datetime) -> bool:
    """Record ``exc`` against the campaign or the feature it concerns; False when it concerns the account
    (the caller re-raises it)."""
    if isinstance(exc, BadRequest) and advert_id is not None:
        view.scoped_failures[(feature, advert_id)] = (now, str(exc)[:300])
        log.warning("account %s campaign %s: %s read refused (%s); the campaign's other reads go on",
                    view.name, advert_id, feature, exc)
        return True
    if isinstance(exc, AuthFailed) and exc.status == 403 and feature in OPTIONAL_FEATURES:
        if feature not in view.features_off:
            view.features_off[feature] = str(exc)[:300]
            view.features_to_alert.append(feature)
            log.warning("account %s: %s not available (%s): turned off for the account", view.name, feature, exc)
        return True
    return False
