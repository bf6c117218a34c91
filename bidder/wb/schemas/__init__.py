"""Wire models of the Promotion API (pydantic), lenient by design, and their conversion to domain types.

Parsing rules (REFERENCE.md §5, §3): ``null`` lists are empty; unknown fields are ignored; unknown enum
values (bid_type, payment_type, status, placement types) are logged once and kept; statistics money
floats become ``Decimal`` through ``str``; ``days[].date`` is read from its first 10 characters.
A body that does not fit these models at all is a SchemaDrift (raised by the client). So is an absurd
value: negative spend, or a current bid above ``MAX_PLAUSIBLE_BID`` (nothing is stored or decided on it).

By endpoint group: :mod:`.campaigns` (count, adverts, config), :mod:`.bids` (bids PATCH, minimum and
recommended bids, search-cluster bids), :mod:`.stats` (fullstats, search-cluster stats); the shared base
model, field types and error bodies in :mod:`.base`. Everything is importable from here.
"""

from bidder.wb.schemas.base import (
    KNOWN_BID_TYPES,
    KNOWN_PAYMENT_TYPES,
    KNOWN_STATUSES,
    KNOWN_TYPES,
    MAX_PLAUSIBLE_BID,
    Bid,
    Day,
    ErrorBody,
    Int0,
    Money,
    NullList,
    Spend,
    Str,
    Wire,
    _seen_unknown,
    note_unknown,
)
from bidder.wb.schemas.bids import (
    MIN_BID_PLACEMENT_FROM_WIRE,
    MIN_BID_PLACEMENT_TO_WIRE,
    AdvertBidsOut,
    BidKopecks,
    BidsPatchResponse,
    MinBidNm,
    MinBidsResponse,
    MinBidValue,
    NmBidOut,
    NQBid,
    NQGetBidsResponse,
    NQSetBidsResponse,
    NQSetFailed,
    NQSetOk,
    RecBase,
    RecLevel,
    RecNormQuery,
    RecommendationsResponse,
)
from bidder.wb.schemas.campaigns import (
    AdvertSettings,
    AdvertsResponse,
    AdvertV2,
    BidsKopecks,
    ConfigResponse,
    CountAdvert,
    CountGroup,
    CountResponse,
    NmSetting,
    Placements,
    Subject,
    Timestamps,
)
from bidder.wb.schemas.stats import (
    AppStat,
    BoosterStat,
    DayStat,
    FullStatsItem,
    FullStatsResponse,
    NativeSpend,
    NmStat,
    NQItemStats,
    NQStat,
    NQStatsResponse,
)

__all__ = [
    "KNOWN_BID_TYPES", "KNOWN_PAYMENT_TYPES", "KNOWN_STATUSES", "KNOWN_TYPES", "MAX_PLAUSIBLE_BID",
    "MIN_BID_PLACEMENT_FROM_WIRE", "MIN_BID_PLACEMENT_TO_WIRE", "AdvertBidsOut", "AdvertSettings", "AdvertV2",
    "AdvertsResponse", "AppStat", "Bid", "BidKopecks", "BidsKopecks", "BidsPatchResponse", "BoosterStat",
    "ConfigResponse", "CountAdvert", "CountGroup", "CountResponse", "Day", "DayStat", "ErrorBody",
    "FullStatsItem", "FullStatsResponse", "Int0", "MinBidNm", "MinBidValue", "MinBidsResponse", "Money",
    "NQBid", "NQGetBidsResponse", "NQItemStats", "NQSetBidsResponse", "NQSetFailed", "NQSetOk", "NQStat",
    "NQStatsResponse", "NativeSpend", "NmBidOut", "NmStat", "NmSetting", "NullList", "Placements", "RecBase", "RecLevel",
    "RecNormQuery", "RecommendationsResponse", "Spend", "Str", "Subject", "Timestamps", "Wire", "_seen_unknown",
    "note_unknown",
]
