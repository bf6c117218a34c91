"""The operator's pause reaches the managed campaigns the evaluation cannot see (issue 14, fail closed).

The evaluator decides the operator's pause (``pause-all``, ``/pause``, the dashboard) for campaigns whose
details were read and whose status it knows. Two kinds of managed campaigns fall outside it, and both
may be spending:

* known only from WB's campaign list (``/adv/v1/promotion/count``, ``view.listed``): their details did
  not read yet (a first start while ``/api/advert/v2/adverts`` answers garbage);
* read, with a status the bidder does not know (``status: 42``: WB added one, or a garbled reply).

A pause needs the campaign id alone (``GET /adv/v0/pause?id=``; REFERENCE.md §3.7), so both are paused:

* a campaign known only from the list, when the list shows it active (9) or in a status not known; one
  the list shows paused, ready, declined or finished spends nothing and is left alone;
* a campaign with an unknown status in its details, unless the list shows it in a known status other
  than active (the list is then the better word); otherwise whatever the details say.

WB answers a pause of a campaign that is not running with 422 "Статус кампании не изменен" (the client
returns ``changed=False``): that is done, not a rejection, and is not announced. A pause WB took (200 or
422) is not sent again while the campaign reads as it did then (``view.kill_switch_done``): a status WB
keeps sending unknown would otherwise repeat the request every status tick. It is sent again when what
the bidder reads changes (the list shows the campaign active again), and the memory is dropped when the
operator lifts the pause.

Which campaigns are managed: the config's selection (``campaigns[].managed``; ``defaults.managed`` with
strategies or a schedule, :meth:`bidder.config.AccountConfig.is_managed`) depends on the campaign id
alone, so a campaign known only from the list is judged by exactly the rule that judges the others, and
a campaign the seller excluded (``managed: false``, or not listed while the defaults manage nothing) is
never paused. Should a selection rule ever read a campaign's details (type, name, payment type), the
fail-closed choice for a campaign whose details are unknown is to pause it only when the config names
it by id; the kill switch never touches a campaign the seller may have excluded.

Resuming is not a safety action: a campaign paused here is resumed (operator pause lifted) by the
evaluator once its details read cleanly (the audit trail holds the operator's pause).
"""

from __future__ import annotations

from collections.abc import Iterable

from bidder.domain import Action, Decision, Status
from bidder.engine.safety import KNOWN_STATUSES
from bidder.engine.view import AccountView
from bidder.reasons import because

OPERATOR = "operator"  # the operator's decisions (engine/evaluate.py's OPERATOR): lifted pauses resume


def seen_as(view: AccountView, advert_id: int) -> tuple[int | None, int | None]:
    """What the bidder reads of a campaign's status: (its details' status, the list's status)."""
    camp = view.campaigns.get(advert_id)
    return (camp.status if camp is not None else None, view.listed.get(advert_id))


def unseen_reason(view: AccountView, advert_id: int) -> str | None:
    """Why the evaluator cannot pause this campaign itself while it may be spending, or None (the
    evaluator's, or it spends nothing by what WB says)."""
    camp = view.campaigns.get(advert_id)
    listed = view.listed.get(advert_id)
    if camp is not None and camp.status in KNOWN_STATUSES:
        return None  # the evaluator's (operator_hold)
    if listed is not None and listed in KNOWN_STATUSES and listed != Status.ACTIVE:
        return None  # WB's list shows it paused, ready, declined or finished: nothing to stop
    if camp is None:
        if listed is None:
            return None  # not known at all
        return "list_only"
    return "unknown_status"


def unseen_pauses(view: AccountView, paused: bool | Iterable[int] | None) -> list[Decision]:
    """The operator's pause for managed campaigns the evaluation does not decide (see the module).
    ``paused``: the operator's state (True: the whole account; a set of campaign ids)."""
    every = paused is True
    chosen = set() if every or not paused else set(paused)  # type: ignore[arg-type]
    done = view.kill_switch_done
    out: list[Decision] = []
    for advert_id in sorted(view.known_ids()):
        if not (every or advert_id in chosen):
            done.pop(advert_id, None)  # the pause was lifted: a later one is sent again
            continue
        if advert_id in view.reconciling or view.managed_strategies(advert_id) is None:
            continue  # being reconciled (as in the evaluator); or excluded by the seller's config
        why = unseen_reason(view, advert_id)
        if why is None or done.get(advert_id) == seen_as(view, advert_id):
            continue
        camp = view.campaigns.get(advert_id)
        out.append(Decision(action=Action.PAUSE, advert_id=advert_id, strategy=OPERATOR,
                            reason=because(f"engine.operator_pause_{why}",
                                           status=camp.status if camp is not None else view.listed.get(advert_id)),
                            inputs={"kill_switch": why}))
    return out


def note_paused(view: AccountView, d: Decision) -> None:
    """WB took this pause (200, or 422 "not changed"): not sent again while the campaign reads the same."""
    if d.action == Action.PAUSE and d.inputs.get("kill_switch"):
        view.kill_switch_done[d.advert_id] = seen_as(view, d.advert_id)
