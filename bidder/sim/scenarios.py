"""Scenarios as data: :class:`~bidder.sim.market.ScenarioSpec` values, deterministic for a seed.

* ``demo``: one seller ``shop-a`` with campaigns 1000001..1000015 (fixed ids and nm ids).
* ``scale`` / ``scale:SxC[xI[xH]]``: S sellers x C campaigns x I items (default 50 x 200 x 3), plus H
  finished campaigns (status 7, default 0) per seller that finished weeks before the start, generated
  from the seed; the spec is flat frozen dataclasses, the market state is created lazily per campaign.
* ``faults``: ``demo`` plus fault settings (5xx share, slow replies, malformed JSON, a missing field,
  tokens revoked after N calls); all can be changed at run time through ``POST /__sim/faults``.
* YAML files: ``bidder/sim/scenarios/<name>.yaml`` (e.g. ``small``) or any path ending in ``.yaml``;
  the keys are the dataclass field names (money in kopecks), see :func:`load_yaml_scenario`.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bidder.sim.market import CampaignSpec, ClusterSpec, ItemSpec, ScenarioSpec, SellerSpec

SCENARIO_DIR = Path(__file__).with_name("scenarios")
SCENARIOS = ("demo", "scale", "faults", *sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml")))
_NS = uuid.UUID("6f1c3d4e-9b1a-4c55-8e0f-2a7b5c9d0e11")


def seller_uuid(name: str) -> str:
    return str(uuid.uuid5(_NS, "seller:" + name))


RUB = 100  # kopecks per ruble

DEMO_CLUSTERS = {
    # the main cluster of 1000001: explicit competitors so that ~330 RUB sits near position 8 and
    # position 3 costs ~520-570 RUB (under the seller's 600 RUB cap)
    "платье женское": ClusterSpec("платье женское", 60000, bids=(
        78000, 64000, 50000, 45000, 41000, 38000, 35000, 30000, 27000, 24000, 22000, 20000,
        18000, 16000, 15000, 14000, 12000, 11000), drift=0.08),
    "платье летнее": ClusterSpec("платье летнее", 30000, 25, 28000),
    "кроссовки мужские": ClusterSpec("кроссовки мужские", 50000, 35, 35000),
    "кроссовки беговые": ClusterSpec("кроссовки беговые", 25000, 25, 30000),
    "сумка женская": ClusterSpec("сумка женская", 40000, 30, 25000),
    "рюкзак городской": ClusterSpec("рюкзак городской", 20000, 20, 22000),
    "футболка оверсайз": ClusterSpec("футболка оверсайз", 35000, 30, 18000),
    "джинсы мом": ClusterSpec("джинсы мом", 30000, 25, 26000),
    "куртка зимняя": ClusterSpec("куртка зимняя", 70000, 40, 45000),
    "шапка вязаная": ClusterSpec("шапка вязаная", 25000, 20, 15000),
    "чехол iphone": ClusterSpec("чехол iphone", 45000, 35, 12000),
    "наушники беспроводные": ClusterSpec("наушники беспроводные", 60000, 40, 40000),
    "термокружка": ClusterSpec("термокружка", 15000, 20, 10000),
    "постельное белье": ClusterSpec("постельное белье", 40000, 30, 30000),
    "кружка": ClusterSpec("кружка", 12000, 15, 8000),
}


def _item(nm: int, subject: tuple[int, str], price_rub: int, clusters: tuple[str, ...], search: int = 0,
          rec: int = 0, **kw) -> ItemSpec:
    return ItemSpec(nm_id=nm, subject_id=subject[0], subject_name=subject[1], price=price_rub * RUB,
                    clusters=clusters, search_bid=search, rec_bid=rec, name=f"Товар {nm}", **kw)


DRESS = (69, "платья")
SHOES = (105, "кроссовки")
BAGS = (52, "сумки")
TEES = (192, "футболки")
JEANS = (180, "джинсы")
JACKETS = (168, "куртки")
HATS = (211, "шапки")
CASES = (515, "чехлы для телефонов")
AUDIO = (620, "наушники")
KITCHEN = (744, "термокружки")
BEDDING = (830, "постельное белье")


def demo_spec() -> ScenarioSpec:
    c = []
    # 1000001: unified CPM, active; position ~8 in "платье женское", the seller wants 3 (max 600 RUB)
    c.append(CampaignSpec(1000001, "Платья: единая ставка", "cpm", "unified", 9, (
        _item(211000101, DRESS, 3490, ("платье женское", "платье летнее"), 330 * RUB),
        _item(211000102, DRESS, 2990, ("платье женское",), 330 * RUB),
    ), budget=50_000 * RUB))
    # 1000002: manual CPM, active, low ROI (800 RUB bids on a cheap, poorly converting item)
    c.append(CampaignSpec(1000002, "Футболки: ручная", "cpm", "manual", 9, (
        _item(211000201, TEES, 590, ("футболка оверсайз",), 800 * RUB, 600 * RUB, cr=0.03),
        _item(211000202, TEES, 690, ("футболка оверсайз",), 750 * RUB, 600 * RUB, cr=0.03),
    ), budget=40_000 * RUB, search=True, recommendations=True))
    # 1000003: unified CPM over-spending (DRR ~35%); its 3000 RUB daily budget runs out mid-afternoon
    # (the campaign is paused) and is reset at midnight MSK (the campaign resumes)
    c.append(CampaignSpec(1000003, "Куртки: единая, перерасход", "cpm", "unified", 9, (
        _item(211000301, JACKETS, 1500, ("куртка зимняя",), 600 * RUB, cr=0.03, reach=0.3),
    ), budget=3000 * RUB, daily_budget=3000 * RUB))
    # 1000004: active, healthy; a schedule pauses it at night
    c.append(CampaignSpec(1000004, "Сумки: по расписанию", "cpm", "unified", 9, (
        _item(211000401, BAGS, 2490, ("сумка женская",), 280 * RUB),
        _item(211000402, BAGS, 1990, ("сумка женская", "рюкзак городской"), 260 * RUB),
        _item(211000403, BAGS, 2790, ("рюкзак городской",), 250 * RUB),
    ), budget=30_000 * RUB))
    # 1000005: CPC unified, active
    c.append(CampaignSpec(1000005, "Наушники: CPC", "cpc", "unified", 9, (
        _item(211000501, AUDIO, 2990, ("наушники беспроводные",), 18 * RUB, ctr=0.035),
        _item(211000502, AUDIO, 4490, ("наушники беспроводные",), 22 * RUB, ctr=0.03),
    ), budget=40_000 * RUB))
    # 1000006..1000009: healthy, a mix
    c.append(CampaignSpec(1000006, "Кроссовки: ручная", "cpm", "manual", 9, (
        _item(211000601, SHOES, 4990, ("кроссовки мужские", "кроссовки беговые"), 380 * RUB, 250 * RUB),
        _item(211000602, SHOES, 5490, ("кроссовки беговые",), 340 * RUB, 250 * RUB),
        _item(211000603, SHOES, 3990, ("кроссовки мужские",), 360 * RUB, 200 * RUB),
        _item(211000604, SHOES, 6990, ("кроссовки мужские",), 420 * RUB, 300 * RUB),
    ), budget=80_000 * RUB, search=True, recommendations=True))
    c.append(CampaignSpec(1000007, "Джинсы: CPC единая", "cpc", "unified", 9, (
        _item(211000701, JEANS, 2790, ("джинсы мом",), 9 * RUB),
        _item(211000702, JEANS, 3190, ("джинсы мом",), 10 * RUB),
    ), budget=25_000 * RUB))
    c.append(CampaignSpec(1000008, "Чехлы: CPC ручная", "cpc", "manual", 9, (
        _item(211000801, CASES, 790, ("чехол iphone",), 6 * RUB, ctr=0.05),
    ), budget=15_000 * RUB, search=True, recommendations=False))
    c.append(CampaignSpec(1000009, "Постельное: единая", "cpm", "unified", 9, (
        _item(211000901, BEDDING, 3990, ("постельное белье",), 300 * RUB),
        _item(211000902, BEDDING, 4590, ("постельное белье",), 320 * RUB),
    ), budget=60_000 * RUB))
    # 1000010, 1000011: paused
    c.append(CampaignSpec(1000010, "Шапки: пауза", "cpm", "unified", 11, (
        _item(211001001, HATS, 990, ("шапка вязаная",), 200 * RUB),
    ), budget=10_000 * RUB))
    c.append(CampaignSpec(1000011, "Кружки: пауза", "cpm", "manual", 11, (
        _item(211001101, KITCHEN, 890, ("термокружка", "кружка"), 150 * RUB),
        _item(211001102, KITCHEN, 1190, ("термокружка",), 160 * RUB),
    ), budget=8_000 * RUB, search=True))
    # 1000012: completed; 1000013: ready to launch
    c.append(CampaignSpec(1000012, "Летние платья: завершена", "cpm", "unified", 7, (
        _item(211001201, DRESS, 2490, ("платье летнее",), 250 * RUB),
    ), budget=0))
    c.append(CampaignSpec(1000013, "Новая: готова к запуску", "cpm", "unified", 4, (
        _item(211001301, TEES, 1290, ("футболка оверсайз",), 200 * RUB),
        _item(211001302, TEES, 1390, ("футболка оверсайз",), 200 * RUB),
    ), budget=20_000 * RUB))
    # 1000014: active healthy; 1000015: active over-spending
    c.append(CampaignSpec(1000014, "Термокружки: единая", "cpm", "unified", 9, (
        _item(211001401, KITCHEN, 1490, ("термокружка",), 180 * RUB),
        _item(211001402, KITCHEN, 1690, ("термокружка", "кружка"), 170 * RUB),
    ), budget=20_000 * RUB))
    c.append(CampaignSpec(1000015, "Наушники: перерасход", "cpm", "unified", 9, (
        _item(211001501, AUDIO, 1290, ("наушники беспроводные",), 750 * RUB, cr=0.025),
        _item(211001502, AUDIO, 990, ("наушники беспроводные",), 700 * RUB, cr=0.025),
    ), budget=100_000 * RUB))
    seller = SellerSpec("shop-a", seller_uuid("shop-a"), tuple(c), balance=250_000 * RUB, bonus=15_000 * RUB)
    return ScenarioSpec("demo", (seller,), dict(DEMO_CLUSTERS))


_SUBJECTS = [DRESS, SHOES, BAGS, TEES, JEANS, JACKETS, HATS, CASES, AUDIO, KITCHEN, BEDDING]
_WORDS = ["платье", "кроссовки", "сумка", "футболка", "джинсы", "куртка", "шапка", "чехол", "наушники",
          "термокружка", "белье", "рюкзак", "кружка", "свитер", "юбка", "пальто", "ботинки", "часы"]
_ADJ = ["женское", "мужские", "летнее", "зимняя", "детские", "черный", "белая", "оверсайз", "кожаная",
        "большой", "новогодний", "спортивные"]


def scale_spec(seed: int = 1, sellers: int = 50, campaigns: int = 200, items: int = 3,
               history: int = 0) -> ScenarioSpec:
    """Many sellers x campaigns from the seed. Campaign ids: seller k (0-based) has
    ``2_000_000 + k * 10_000 + j`` for j in 1..campaigns; nm ids ``300_000_000 + advert index * 10 + i``.
    ``history`` finished campaigns per seller (status 7, one item each; like every scale campaign created
    30 to 89 days before the start and last changed a day later, so long before any statistics window) follow with ids ``... + campaigns + h``;
    they are drawn from a random generator of their own, so the live campaigns do not depend on them."""
    if campaigns + history >= 10_000:
        raise ValueError("scale: campaigns + history must stay under 10,000 per seller")
    rng = random.Random(seed * 7919 + 17)
    hist_rng = random.Random(seed * 104729 + 3)
    queries = [f"{w} {a}" for w in _WORDS for a in _ADJ]
    clusters = {
        q: ClusterSpec(q, rng.randint(5_000, 80_000), rng.randint(10, 40), rng.randint(8_000, 50_000))
        for q in queries
    }
    sellers_out = []
    n = 0
    for k in range(sellers):
        name = f"seller-{k + 1:03d}"
        camps = []
        for j in range(1, campaigns + 1):
            n += 1
            advert_id = 2_000_000 + k * 10_000 + j
            pay = "cpc" if rng.random() < 0.25 else "cpm"
            bid_type = "unified" if rng.random() < 0.6 else "manual"
            r = rng.random()
            status = 9 if r < 0.7 else 11 if r < 0.85 else 7 if r < 0.95 else 4
            its = []
            for i in range(items):
                subj = rng.choice(_SUBJECTS)
                qs = tuple(rng.sample(queries, rng.randint(1, 3)))
                if pay == "cpc":
                    bid = rng.randint(6, 40) * RUB
                else:
                    bid = rng.randint(160, 700) * RUB
                its.append(ItemSpec(
                    nm_id=300_000_000 + n * 10 + i, subject_id=subj[0], subject_name=subj[1],
                    price=rng.randint(5, 80) * 100 * RUB, clusters=qs, search_bid=bid,
                    rec_bid=bid if bid_type == "manual" and pay == "cpm" else 0,
                    ctr=rng.uniform(0.015, 0.05), cr=rng.uniform(0.02, 0.08),
                ))
            camps.append(CampaignSpec(
                advert_id, f"Кампания {advert_id}", pay, bid_type, status, tuple(its),
                budget=rng.randint(5, 200) * 1000 * RUB, search=True,
                recommendations=bid_type == "manual" and pay == "cpm",
            ))
        for h in range(1, history + 1):
            advert_id = 2_000_000 + k * 10_000 + campaigns + h
            pay = "cpc" if hist_rng.random() < 0.25 else "cpm"
            subj = hist_rng.choice(_SUBJECTS)
            bid = hist_rng.randint(6, 40) * RUB if pay == "cpc" else hist_rng.randint(160, 700) * RUB
            item = ItemSpec(
                nm_id=400_000_000 + (k * 10_000 + h) * 10, subject_id=subj[0], subject_name=subj[1],
                price=hist_rng.randint(5, 80) * 100 * RUB, clusters=(hist_rng.choice(queries),), search_bid=bid,
                rec_bid=0, ctr=hist_rng.uniform(0.015, 0.05), cr=hist_rng.uniform(0.02, 0.08),
            )
            camps.append(CampaignSpec(
                advert_id, f"Кампания {advert_id}", pay, "unified", 7, (item,),
                budget=0, search=True,
            ))
        sellers_out.append(SellerSpec(name, seller_uuid(name), tuple(camps)))
    return ScenarioSpec("scale", tuple(sellers_out), clusters, history_days=1, history_chunk_hours=24)


DEFAULT_FAULTS = {
    "error_rate": 0.1,
    "slow_rate": 0.05,
    "slow_seconds": 2.0,
    "malformed_rate": 0.03,
    "missing_field_rate": 0.03,
    "revoke_after": 500,
}


def faults_spec() -> ScenarioSpec:
    return replace(demo_spec(), name="faults", faults=dict(DEFAULT_FAULTS))


def build_scenario(name: str, seed: int = 1, *, start: datetime | None = None) -> ScenarioSpec:
    """``demo`` | ``faults`` | ``scale`` | ``scale:SxC`` | ``scale:SxCxI``."""
    base, _, params = name.partition(":")
    if base == "demo":
        spec = demo_spec()
    elif base == "faults":
        spec = faults_spec()
    elif base == "scale":
        dims = [int(x) for x in params.split("x")] if params else []
        spec = scale_spec(seed, *dims)
    elif name.endswith((".yaml", ".yml")):
        spec = load_yaml_scenario(Path(name))
    elif (SCENARIO_DIR / f"{name}.yaml").exists():
        spec = load_yaml_scenario(SCENARIO_DIR / f"{name}.yaml")
    else:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    if start is not None:
        spec = replace(spec, start=start.astimezone(UTC))
    return spec


def _build(cls: type, data: Any, where: str, **convert: Any) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping")
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(names)}")
    kwargs = dict(data)
    for key, fn in convert.items():
        if key in kwargs:
            kwargs[key] = fn(kwargs[key])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None


def load_yaml_scenario(path: Path) -> ScenarioSpec:
    """A scenario from YAML; keys are the spec dataclasses' field names (money in kopecks). A seller's
    ``seller_id`` defaults to a stable UUID derived from its name."""
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(Path(path).read_text(encoding="utf-8"))
    src = str(path)

    def item(d: Any, w: str) -> ItemSpec:
        return _build(ItemSpec, d, w, clusters=tuple)

    def campaign(d: Any, w: str) -> CampaignSpec:
        d = dict(d)
        d["items"] = tuple(item(x, f"{w}.items[{i}]") for i, x in enumerate(d.get("items") or []))
        return _build(CampaignSpec, d, w, created=_dt)

    def seller(d: Any, w: str) -> SellerSpec:
        d = dict(d)
        d.setdefault("seller_id", seller_uuid(str(d.get("name"))))
        d["campaigns"] = tuple(campaign(x, f"{w}.campaigns[{i}]") for i, x in enumerate(d.get("campaigns") or []))
        return _build(SellerSpec, d, w)

    data = dict(data or {})
    clusters = {}
    for i, c in enumerate(data.pop("clusters", None) or []):
        spec = _build(ClusterSpec, c, f"{src}: clusters[{i}]", bids=tuple)
        clusters[spec.query] = spec
    data["clusters"] = clusters
    data["sellers"] = tuple(seller(x, f"{src}: sellers[{i}]") for i, x in enumerate(data.get("sellers") or []))
    data.setdefault("name", Path(path).stem)
    return _build(ScenarioSpec, data, src, start=_dt)


def _dt(value: Any) -> datetime:
    t = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if t.tzinfo is None:
        raise ValueError("datetimes in scenarios must carry a time zone")
    return t.astimezone(UTC)
