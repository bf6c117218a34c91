"""Decision reasons as codes with their numbers (bidder.reasons): the catalogue is complete in both
locales, money renders in base units, and every reason the guardrails, the engine and the converted
strategies emit carries a code (hypothesis over snapshots and proposals); plain strings still work."""

from __future__ import annotations

import ast
import pickle
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from _bid_builders import ADVERT, NOW, campaign, day, record, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from bidder.domain import Action, Proposal, Reason, Status, reason_record
from bidder.engine.evaluate import _wait_for_rules, operator_hold, operator_resume, rollback_guard
from bidder.engine.guards import WAR_PREFIX, GuardConfig, decide
from bidder.reasons import CATALOGUE, LOCALES, because, guarded, joined, localised, render, render_stored
from strategies.schedule import Schedule

ROOT = Path(__file__).resolve().parents[2]
# Strategies being rewritten by their owners: their reasons are still plain strings (rendered as text).
# Remove a name once its file emits only coded reasons (test_pending_list_is_current says when).
PENDING_CONVERSION: set[str] = set()


def _fields(template: str) -> dict[str, str]:
    return {name: spec for _, name, spec, _ in string.Formatter().parse(template) if name}


def _sample(spec: str, name: str):
    if spec == "money":
        return 22250
    if spec == "base":
        return "1234.5"
    if spec == "pos":
        return 3.25
    if name in ("parts",):
        return [{"strategy": "a", "reason": because("guard.nothing")}, {"strategy": "b", "reason": "plain"}]
    if name == "notes":
        return [because("guard.capped", cap=50000), "plain note"]
    if name in ("reason", "guard"):
        return because("guard.pausing")
    if spec:
        return 12.5
    return 7


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_code_has_both_locales_with_the_same_fields(code: str) -> None:
    entry = CATALOGUE[code]
    assert set(entry) == set(LOCALES), code
    for template in entry.values():  # render() parses each template once and relies on this shape
        for _, name, spec, conversion in string.Formatter().parse(template):
            assert name is None or (name.isidentifier() and conversion is None and "{" not in (spec or "")), \
                f"{code}: {{{name}}} is not a plain named field"
    en, ru = _fields(entry["en"]), _fields(entry["ru"])
    assert en == ru, f"{code}: the locales use different fields or formats"
    args = {name: _sample(spec, name) for name, spec in en.items()}
    texts = {loc: render(code, args, loc) for loc in LOCALES}
    assert str(because(code, **args)) == texts["en"]
    if any(c.isalpha() for c in entry["ru"].replace("max_bid", "").replace("min_change_interval", "")):
        assert any("а" <= c <= "я" for c in texts["ru"].lower()), (code, texts["ru"])


def test_nested_reasons_render_as_the_standard_formatter_renders_them() -> None:
    """render() parses templates once and takes an inner reason's English text as it was made; the texts
    are what Python's string.Formatter gives for the same template (outer, inner and stored reasons)."""
    from bidder.reasons import _Formatter

    nums = because("spend_cap.nums", drr=12.5, days=3, spend="1234.50", revenue="9999.00")
    outer = guarded(because("spend_cap.within", nums=nums, cap=20), because("guard.nothing"))
    stored = Reason(str(nums) + " (an older text)", nums.code, dict(nums.args))  # as the audit trail loads one
    again = because("spend_cap.within", nums=stored, cap=20)
    for reason in (nums, outer, again):
        for loc in LOCALES:
            standard = string.Formatter.format(_Formatter(loc, "RUB"), CATALOGUE[reason.code][loc], **reason.args)
            assert render(reason.code, reason.args, loc) == standard
    assert str(outer) == render(outer.code, outer.args, "en")
    assert "older text" not in str(again), "a reason made elsewhere is rendered from its code, not its text"


def test_money_in_base_units_in_both_languages() -> None:
    r = because("guard.below_min", current=20000, floor=22200)
    assert str(r) == "current bid 200\xa0₽ is below WB's minimum 222\xa0₽: raised to it"
    assert render(r.code, r.args, "ru") == "текущая ставка 200\xa0₽ ниже минимальной ставки WB 222\xa0₽: поднята до неё"
    assert "222,50\xa0₽" in render("guard.capped", {"cap": 22250}, "ru")
    assert "1\u202f234,50\xa0₽" in render("guard.no_evidence", {"spend": "1234.5", "min_spend": "50",
                                                                   "clicks": 3, "min_clicks": 20}, "ru")
    assert "222.50\xa0₸" in render("guard.capped", {"cap": 22250}, "en", currency="KZT")


def test_plain_reasons_still_work_and_mix_with_codes() -> None:
    r = joined([("target_position", "position 9.0, target 3: raising"), ("schedule", because("guard.nothing")),
                ("empty", "")])
    assert str(r) == "target_position: position 9.0, target 3: raising; schedule: nothing to do"
    assert localised(r, "ru") == "target_position: position 9.0, target 3: raising; schedule: делать нечего"
    assert localised("just text", "ru") == "just text" and localised(None, "en") == ""
    assert str(joined([])) == "nothing to do"


def test_stored_records_render_and_fall_back_to_the_text() -> None:
    r = because("guarded", reason=because("engine.operator_hold"), guard=because("guard.capped", cap=50000))
    rec = reason_record(r)
    assert rec["args"]["reason"] == {"code": "engine.operator_hold", "args": {}}
    assert render_stored(rec["code"], rec["args"], str(r), "ru") == \
        "действует пауза оператора: все стратегии удерживаются [ограничено max_bid 500\xa0₽]"
    # an old row (no code), an unknown code (a newer version's) and bad args: the stored text
    assert render_stored(None, None, "old text", "ru") == "old text"
    assert render_stored("nope.unknown", {}, "stored", "ru") == "stored"
    assert render_stored("guard.capped", {}, "stored", "ru") == "stored"
    with pytest.raises(KeyError):
        because("no.such.code")


def test_reason_is_a_string_and_survives_pickling_and_replace() -> None:
    r = because("guard.war", raises=3, start=20000, end=26000, pos_from=9.0, pos_to=None)
    assert r.startswith(WAR_PREFIX) and "unknown" in r and isinstance(r, str)
    back = pickle.loads(pickle.dumps(r))
    assert back == r and back.code == r.code and dict(back.args) == dict(r.args)


# --------------------------------------------------------------------- every emitted reason has a code


def _leaves(record) -> list:
    """The uncoded leaves of a stored reason record."""
    if isinstance(record, dict):
        if "text" in record and "code" not in record:
            return [record["text"]]
        out = []
        for v in (record.get("args") or {}).values() if "code" in record else record.values():
            out.extend(_leaves(v))
        return out
    if isinstance(record, list):
        return [x for v in record for x in _leaves(v)]
    return []


def _assert_coded(text) -> None:
    assert isinstance(text, Reason), f"uncoded reason: {text!r}"
    assert _leaves(reason_record(text)) == [], f"uncoded part in {text!r}"


statuses = st.sampled_from([Status.READY, Status.ACTIVE, Status.PAUSED, Status.COMPLETED, 8])
bids = st.integers(min_value=100, max_value=200_000)


@st.composite
def cases(draw):
    camp = campaign(status=draw(statuses), bids={1: draw(bids)})
    history = ()
    if draw(st.booleans()):
        ago = timedelta(minutes=draw(st.integers(1, 600)))
        history = tuple(record(ago=ago * (i + 1), before=20000 + 1000 * i, after=21000 + 1000 * i, pos=5.0)
                        for i in range(draw(st.integers(1, 4))))
    snap = snapshot(camp=camp, history=history, stats=(day(spend=draw(st.sampled_from([0, 400])), clicks=50),),
                    stats_age=draw(st.sampled_from([None, timedelta(minutes=5), timedelta(days=2)])),
                    step=draw(st.sampled_from([1, 100, 500])),
                    min_bids={(1, "combined"): draw(st.integers(100, 60_000))},
                    operator_paused=draw(st.booleans()))
    kinds = draw(st.lists(st.sampled_from(["set", "hold", "pause", "resume", "veto", "time_pause"]), max_size=4))
    proposals = []
    for i, k in enumerate(kinds):
        name = draw(st.sampled_from(["target_position", "spend_cap", "schedule"]))
        r = because("engine.rollback", to=f"2026-11-2{i}T10:00")
        if k == "set":
            proposals.append(Proposal(name, Action.SET_BID, ADVERT, 1, "combined", bid=draw(bids), reason=r,
                                      inputs={"avg_position": 9.0}))
        elif k in ("hold", "veto"):
            proposals.append(Proposal(name, Action.HOLD, ADVERT, 1, "combined", reason=r,
                                      inputs={"no_raise": True} if k == "veto" else {}))
        else:
            proposals.append(Proposal(name, Action.PAUSE if "pause" in k else Action.RESUME, ADVERT, reason=r,
                                      inputs={"time_based": True} if k == "time_pause" else {}))
    guard = GuardConfig.from_numbers(max_bid=draw(st.sampled_from([200, 500, 2000])), war_raises=2)
    if draw(st.booleans()):
        guard = rollback_guard(guard)
    return snap, proposals, guard, draw(st.booleans())


@settings(max_examples=300, deadline=None)
@given(cases())
def test_every_guardrail_reason_has_a_code(case) -> None:
    snap, proposals, guard, stop = case
    for d in decide(snap, proposals, guard, NOW, stop=stop):
        _assert_coded(d.reason)
        if d.guard is not None:
            _assert_coded(d.guard)
        _assert_coded(_wait_for_rules(d).reason)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 24 * 60 - 1), statuses, st.sampled_from(["pause", "lower"]), st.booleans(), st.booleans())
def test_every_schedule_reason_has_a_code(minute, status, outside, lowered, own_pause) -> None:
    strat = Schedule(Schedule.Params(active_hours="08:00-23:00", timezone="Europe/Moscow", outside=outside))
    now = datetime(2026, 11, 24, tzinfo=UTC) + timedelta(minutes=minute)
    history = []
    if lowered:
        history.append(record(strategy="schedule", ago=timedelta(hours=2), before=30000, after=20000))
    if own_pause:
        history.append(record(Action.PAUSE, strategy="schedule", nm=None, placement=None, before=None, after=None,
                              ago=timedelta(hours=1)))
    snap = snapshot(camp=campaign(status=status, bids={1: 20000, 2: 0}), history=tuple(history))
    for p in strat.decide(snap, now):
        _assert_coded(p.reason)


def test_operator_reasons_have_codes() -> None:
    active = snapshot(camp=campaign(status=Status.ACTIVE))
    paused = snapshot(camp=campaign(status=Status.PAUSED),
                      history=(record(Action.PAUSE, strategy="operator", nm=None, placement=None, before=None,
                                      after=None),))
    for d in [*operator_hold(active), *operator_hold(paused), operator_resume(paused)]:
        _assert_coded(d.reason)
    assert "оператор" in localised(operator_hold(active)[0].reason, "ru")


def _literal_reasons(path: Path) -> list[int]:
    """Lines where a reason is written as a string literal or f-string instead of a code: ``reason=``
    keywords, the reason argument of ``proposal()``, ``hold()`` / ``blocked()`` / ``make()`` calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def literal(node: ast.AST) -> bool:
        return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)
                                                    and node.value != "")

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        args = list(node.args)
        if any(k.arg in ("reason", "guard") and literal(k.value) for k in node.keywords):
            found.append(node.lineno)
        elif name == "proposal" and len(args) >= 4 and literal(args[3]):
            found.append(node.lineno)
        elif name in ("hold", "blocked") and args and literal(args[0]):
            found.append(node.lineno)
        elif name == "make" and len(args) >= 2 and any(literal(a) for a in args[1:4]):
            found.append(node.lineno)
    return found


def _reason_sources() -> list[Path]:
    return [*sorted((ROOT / "strategies").glob("*.py")),
            *(ROOT / "bidder" / "engine" / n for n in ("guards.py", "evaluate.py", "apply.py"))]


def test_no_reason_is_written_as_a_literal_outside_the_pending_strategies() -> None:
    offenders = {p.name: lines for p in _reason_sources() if p.name not in PENDING_CONVERSION
                 if (lines := _literal_reasons(p))}
    assert offenders == {}, "write these reasons with bidder.reasons.because(code, **numbers)"


def test_pending_list_is_current() -> None:
    """A strategy in PENDING_CONVERSION that emits only coded reasons is taken off the list."""
    done = [n for n in PENDING_CONVERSION if (ROOT / "strategies" / n).exists()
            and not _literal_reasons(ROOT / "strategies" / n)]
    assert done == [], f"converted: remove {done} from PENDING_CONVERSION"


def test_an_uncoded_proposal_goes_through_the_guardrails_as_its_text() -> None:
    snap = snapshot(camp=campaign(bids={1: 20000}))
    p = Proposal("target_position", Action.SET_BID, ADVERT, 1, "combined", bid=90000,
                 reason="position 9.0, target 3: worse than the target, raising")
    d = decide(snap, [p], GuardConfig.from_numbers(max_bid=500), NOW)[0]
    assert d.reason.startswith("position 9.0, target 3") and isinstance(d.reason, Reason)
    ru = localised(d.reason, "ru")
    assert ru.startswith("position 9.0, target 3: worse than the target, raising [") and "ограничено" in ru
