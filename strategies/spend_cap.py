"""The spend_cap strategy: keep ДРР (ad spend share of revenue) under a cap, and a daily budget.

ДРР = spend / revenue x 100 over ``window`` *complete* local days ending yesterday (revenue lags spend,
so today's partial day would overstate it; see strategies/windows.py). A breach is acted on only when
it is probable: P(ДРР > cap) >= ``confidence_pct`` under the Gamma–Poisson model of
strategies/evidence.py (orders given clicks, prior from the campaign's earlier days). With no order
ever seen, spend above ``min_spend_without_revenue`` counts as a breach.

Per item, on a probable breach the bids go down by ``step_pct``, or in proportion (cap / ДРР) when that
is more. At WB's minimum bid the item is stuck: with ``on_breach: lower`` a campaign whose every item is
stuck is paused (stop at the minimum); with ``on_breach: pause`` a probable campaign breach pauses at
once. Hysteresis: a campaign this strategy paused for ДРР resumes, and cut bids are raised back, only
when ДРР is ``restore_below_pct`` % under the cap; at most ``max_status_changes_per_day`` pauses and
resumes a day (then no more resumes that day; pauses are never held back).

Daily budget: today's spend plus the spend projected ``budget_lookahead`` ahead (WB publishes spend
every 3 minutes) reaching ``daily_budget`` pauses an active campaign until the next local day
(time-based: the guardrails do not ask for performance evidence). Hard overspend guard: today's spend
at ``overspend_guard_x`` times the window's mean daily spend with today's ДРР over the cap cuts bids
without waiting for the day to complete.

Reads: ``daily_stats``, ``stats_as_of``, ``campaign.status``, ``history`` (its own cuts, pauses and
resumes), ``rules``, ``timezone``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bidder.domain import Action, CampaignSnapshot, Proposal, Reason, Status
from bidder.reasons import because, notes
from strategies.base import Strategy
from strategies.common import (
    TIME_BASED,
    Target,
    Totals,
    by,
    cooling,
    cooling_reason,
    last_status_change,
    local_date,
    min_bid,
    proposal,
    round_down,
    round_up,
    run_start_bid,
    spent,
    targets,
    totals,
)
from strategies.evidence import Verdict
from strategies.params import SpendCapParams
from strategies.windows import Evidence, complete_days, evidence

INFINITE = float("inf")
ZERO = Decimal(0)


class SpendCap(Strategy):
    kind = "spend_cap"
    Params = SpendCapParams
    # a daily budget already reached (or a ДРР pause) is read from spend already stored: its pauses are
    # enforced even while WB's reads fail; its bid changes wait for fresh statistics
    safe_without_fresh_reads = frozenset({Action.PAUSE})

    params: SpendCapParams

    def drr(self, tot: Totals) -> float | None:
        """ДРР in %, ``inf`` when spend without revenue is over the threshold, None when unknown."""
        if tot.incomplete:
            return None
        if tot.revenue > 0:
            return float(tot.spend / tot.revenue * 100)
        if tot.spend > self.params.min_spend_without_revenue:
            return INFINITE
        return None

    def judge(self, ev: Evidence) -> tuple[bool, Verdict | None]:
        """(probable breach, verdict). Without any known order value, spend over the threshold is a breach."""
        tot = ev.window
        if tot.spend <= 0:
            return False, None
        v = ev.below(float(tot.spend) * 100 / self.params.max_drr_pct)
        if v is None:
            return tot.spend > self.params.min_spend_without_revenue, None
        return v.probability >= self.params.confidence_pct / 100, v

    def healthy(self, drr: float | None) -> bool:
        """Under the cap by the restore margin (the hysteresis for resumes and raises)."""
        p = self.params
        return drr is not None and drr <= p.max_drr_pct * (1 - p.restore_below_pct / 100)

    def decide(self, snapshot: CampaignSnapshot, now: datetime) -> list[Proposal]:
        p = self.params
        first, last = complete_days(now, snapshot.timezone, p.window)
        days = (last - first).days + 1
        out: list[Proposal] = []
        camp_ev = evidence(snapshot.daily_stats, first, last, None, p.prior_clicks)
        camp = camp_ev.window
        camp_drr = self.drr(camp)
        camp_breach, camp_v = self.judge(camp_ev)
        today = local_date(now, snapshot.timezone)
        status = snapshot.campaign.status
        # today's spend: what is known of it (a row missing its money field adds nothing; issue 14)
        spent_today = projected = ZERO
        if p.daily_budget is not None or camp_breach or status == Status.PAUSED:  # else nothing reads them
            spent_today = spent(snapshot.daily_stats, today, today)
            projected = self._projected(snapshot, now, spent_today)
        budget_hit = p.daily_budget is not None and projected >= p.daily_budget

        items: list[Proposal] = []
        stuck: set[int] = set()
        managed: set[int] = set()
        judged: dict[int, tuple] = {}  # per item: its placements share the item's window
        for item, target, placement in targets(snapshot):
            found = judged.get(item.nm_id)
            if found is None:
                ev = evidence(snapshot.daily_stats, first, last, item.nm_id, p.prior_clicks)
                drr = self.drr(ev.window)
                breach, v = self.judge(ev)
                inputs = {"window_days": days, "spend": str(ev.window.spend), "revenue": str(ev.window.revenue),
                          "clicks": ev.window.clicks, "orders": ev.window.orders, "drr_pct": _num(drr),
                          "max_drr_pct": p.max_drr_pct, "breach_probability": _prob(v),
                          "confidence_pct": p.confidence_pct}
                found = judged[item.nm_id] = (ev, drr, breach, v, inputs, self._nums(ev.window, drr, days, v))
            ev, drr, breach, v, inputs, item_nums = found
            if target is None:
                items.append(proposal(self.kind, Action.HOLD, snapshot, because("common.bid_unknown"),
                                      nm_id=item.nm_id, placement=placement, **inputs))
                continue
            managed.add(item.nm_id)
            today_item = totals(snapshot.daily_stats, today, today, item.nm_id)
            prop = self._item(snapshot, target, ev, drr, breach, v, today_item, days, inputs, now, item_nums)
            if prop.inputs.get("stuck_at_min"):
                stuck.add(item.nm_id)
            items.append(prop)

        if not (budget_hit or camp_breach or status == Status.PAUSED):
            return out + items  # no campaign-level proposal below can be made
        camp_inputs = {
            "window_days": days, "window_last": last.isoformat(), "spend": str(camp.spend),
            "revenue": str(camp.revenue), "clicks": camp.clicks, "orders": camp.orders, "drr_pct": _num(camp_drr),
            "max_drr_pct": p.max_drr_pct, "breach_probability": _prob(camp_v), "confidence_pct": p.confidence_pct,
            "spent_today": str(spent_today), "projected_today": str(projected),
            "daily_budget": None if p.daily_budget is None else str(p.daily_budget), "local_day": today.isoformat(),
        }
        nums = self._nums(camp, camp_drr, days, camp_v)
        # Campaign level: the daily budget first, then a ДРР pause, then a resume.
        # A pause proposal for an already paused campaign keeps it paused (it blocks others' resumes).
        pausing = status == Status.ACTIVE
        if budget_hit and status in (Status.ACTIVE, Status.PAUSED):
            ahead = "" if projected == spent_today else because(
                "spend_cap.projected", projected=str(projected), lookahead=int(p.budget_lookahead.total_seconds()))
            out.append(proposal(
                self.kind, Action.PAUSE, snapshot,
                because("spend_cap.budget_pause" if pausing else "spend_cap.budget_stay_paused",
                        spent=str(spent_today), day=today.isoformat(), tz=snapshot.timezone, ahead=ahead,
                        budget=str(p.daily_budget)),
                **camp_inputs, **{TIME_BASED: True, "pause_kind": "daily_budget"},
            ))
        elif camp_breach and status in (Status.ACTIVE, Status.PAUSED) and (
                p.on_breach == "pause" or (managed and stuck == managed)):
            at_min = "" if p.on_breach == "pause" else because("spend_cap.all_at_min")
            out.append(proposal(
                self.kind, Action.PAUSE, snapshot,
                because("spend_cap.drr_pause" if pausing else "spend_cap.drr_stay_paused", nums=nums,
                        cap=p.max_drr_pct, conf=self._conf(camp_v), at_min=at_min),
                **camp_inputs, pause_kind="drr",
            ))
        elif status == Status.PAUSED:
            out.extend(self._resume(snapshot, now, today, camp_breach, camp_drr, nums, camp_inputs))
        return out + items

    def _projected(self, snapshot: CampaignSnapshot, now: datetime, spent_today: Decimal) -> Decimal:
        """Today's spend projected ``budget_lookahead`` past now, at today's mean rate so far (x2 for peaks)."""
        p = self.params
        if p.daily_budget is None or spent_today <= 0 or p.budget_lookahead <= timedelta(0):
            return spent_today
        as_of = snapshot.stats_as_of or now
        lt = as_of.astimezone(ZoneInfo(snapshot.timezone))
        elapsed = lt - lt.replace(hour=0, minute=0, second=0, microsecond=0)
        if elapsed < timedelta(minutes=30):
            elapsed = timedelta(minutes=30)
        horizon = p.budget_lookahead + max(timedelta(0), now - as_of)
        rate = spent_today / Decimal(elapsed.total_seconds())
        return (spent_today + rate * 2 * Decimal(horizon.total_seconds())).quantize(Decimal("0.01"))

    def _resume(self, snapshot: CampaignSnapshot, now: datetime, today: date, breach: bool,
                drr: float | None, nums: Reason, inputs: dict) -> list[Proposal]:
        p = self.params
        last_change = last_status_change(snapshot)
        if last_change is None or last_change.action != Action.PAUSE or not by(last_change, self.kind):
            return []
        paused_day = local_date(last_change.at, snapshot.timezone)
        budget_pause = (p.daily_budget is not None and paused_day < today
                        and totals(snapshot.daily_stats, paused_day, paused_day).spend >= p.daily_budget * Decimal("0.9"))
        if budget_pause and not breach:
            why = because("spend_cap.why_new_day", day=today.isoformat(), budget=str(p.daily_budget), nums=nums,
                          cap=p.max_drr_pct)
        elif self.healthy(drr) and not breach:
            why = because("spend_cap.why_healthy", nums=nums, cap=p.max_drr_pct, margin=p.restore_below_pct)
        else:
            return []
        changes = self._status_changes_today(snapshot, today)
        if changes >= p.max_status_changes_per_day:
            return [proposal(self.kind, Action.HOLD, snapshot,
                             because("spend_cap.resume_limit", why=why, changes=changes,
                                     limit=p.max_status_changes_per_day),
                             status_changes_today=changes, **inputs)]
        return [proposal(self.kind, Action.RESUME, snapshot,
                         because("spend_cap.resume", why=why, at=f"{last_change.at:%Y-%m-%d %H:%M}"),
                         status_changes_today=changes, **inputs)]

    def _status_changes_today(self, snapshot: CampaignSnapshot, today: date) -> int:
        return sum(1 for r in snapshot.history
                   if r.applied and r.nm_id is None and r.action in (Action.PAUSE, Action.RESUME)
                   and by(r, self.kind) and local_date(r.at, snapshot.timezone) == today)

    def _nums(self, tot: Totals, drr: float | None, days: int, v: Verdict | None) -> Reason:
        return because("spend_cap.nums", drr=_num(drr), days=days, spend=str(tot.spend), revenue=str(tot.revenue))

    def _conf(self, v: Verdict | None) -> Reason | str:
        return "" if v is None else v.confidence()

    def _item(self, snapshot: CampaignSnapshot, t: Target, ev: Evidence, drr: float | None, breach: bool,
              v: Verdict | None, today: Totals, days: int, inputs: dict, now: datetime, nums: Reason) -> Proposal:
        p = self.params
        step = max(snapshot.rules.step, 1)
        tot = ev.window
        guard = self._overspend(tot, today, days)
        if drr is None and not guard:
            why = (because("spend_cap.incomplete", days=days) if tot.incomplete else
                   because("spend_cap.no_spend", days=days) if tot.spend <= 0 else
                   because("spend_cap.thin_spend", spend=str(tot.spend), threshold=str(p.min_spend_without_revenue),
                           days=days))
            return proposal(self.kind, Action.HOLD, snapshot, why, t, **inputs)
        recent = cooling(snapshot, t.nm_id, t.placement, now, p.cooldown)
        if recent is not None:
            veto = {"no_raise": True} if breach or guard else {}
            return proposal(self.kind, Action.HOLD, snapshot, notes([nums, cooling_reason(recent, p.cooldown, now)]),
                            t, **veto, **inputs)
        if breach or guard:
            floor_bid = min_bid(snapshot, t.nm_id, t.placement)
            if guard and not breach:
                what = because("spend_cap.hard_guard", spend=str(today.spend), x=p.overspend_guard_x,
                               drr=_num(self.drr(today)), cap=p.max_drr_pct)
            else:
                what = because("spend_cap.over_cap", nums=nums, cap=p.max_drr_pct, conf=self._conf(v))
            if t.bid <= floor_bid:
                return proposal(self.kind, Action.HOLD, snapshot,
                                because("spend_cap.at_min", what=what, floor=floor_bid), t, min_bid=floor_bid,
                                no_raise=True, stuck_at_min=breach, **inputs)
            # at least step_pct; in proportion when far above (spend is roughly proportional to the bid)
            ratio = drr if breach and drr is not None else self.drr(today)
            cut = 1 - p.step_pct / 100
            factor = cut if ratio is None or ratio == INFINITE else min(cut, p.max_drr_pct / ratio)
            want = max(floor_bid, round_up(t.bid * factor, step))
            if want >= t.bid:  # rounding ate the cut: one bid step down
                want = max(floor_bid, round_down(t.bid - 1, step))
            return proposal(self.kind, Action.SET_BID, snapshot,
                            because("spend_cap.lower", what=what, cut=round((1 - factor) * 100, 2)), t, bid=want,
                            **inputs)
        if self.healthy(drr):
            before = run_start_bid(snapshot, t.nm_id, t.placement, self.kind)
            if before is not None and before > t.bid:
                want = min(before, round_down(t.bid * (1 + p.step_pct / 100), step))
                if want <= t.bid:
                    want = before
                return proposal(self.kind, Action.SET_BID, snapshot,
                                because("spend_cap.raise_back", nums=nums, cap=p.max_drr_pct, bid=before), t,
                                bid=want, restore_to=before, **inputs)
        over = drr is not None and drr > p.max_drr_pct
        if not over:
            why = because("spend_cap.within", nums=nums, cap=p.max_drr_pct)
        elif v is None:
            why = because("spend_cap.not_probable_no_orders", nums=nums, cap=p.max_drr_pct, confidence=p.confidence_pct)
        else:
            why = because("spend_cap.not_probable", nums=nums, cap=p.max_drr_pct, probability=v.percent,
                          confidence=p.confidence_pct, verdict=v.words())
        return proposal(self.kind, Action.HOLD, snapshot, why, t, **inputs)

    def _overspend(self, window: Totals, today: Totals, days: int) -> bool:
        """The hard guard: today far above the window's mean day, and today's ДРР over the cap."""
        p = self.params
        if today.spend <= 0 or window.spend <= 0:
            return False
        mean_day = window.spend / days
        if today.spend < mean_day * Decimal(str(p.overspend_guard_x)):
            return False
        d = self.drr(today)
        return d is not None and d > p.max_drr_pct and today.spend > p.min_spend_without_revenue / 10


def _num(value: float | None) -> float | str | None:
    if value is None:
        return None
    return "inf" if value == INFINITE else round(value, 2)


def _prob(v: Verdict | None) -> float | None:
    return None if v is None else round(v.probability, 4)
