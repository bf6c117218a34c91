"""Health rules: grace period, failures, staleness, reloads, shutdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bidder.health import Health, max_age_for
from bidder.metrics import Metrics

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_max_age_is_three_intervals_at_least_five_minutes() -> None:
    assert max_age_for(timedelta(minutes=1)) == timedelta(minutes=5)
    assert max_age_for(timedelta(minutes=3)) == timedelta(minutes=9)
    assert Health.for_interval(timedelta(minutes=10), T0).max_age == timedelta(minutes=30)
    with pytest.raises(ValueError):
        Health(T0, max_age=timedelta(0))


def test_never_completed_is_healthy_only_during_grace() -> None:
    h = Health(T0, max_age=timedelta(minutes=5), grace=timedelta(minutes=2), accounts=["a"])
    assert h.check(at(119)) == (True, [])
    h.cycle_started("a", at(1))
    ok, reasons = h.check(at(121))
    assert not ok
    assert reasons == ["account a: no cycle completed since start-up 2m01s ago"]


def test_failure_is_unhealthy_at_once_and_recovery_clears_it() -> None:
    h = Health(T0, max_age=timedelta(minutes=5), accounts=["a", "b"])
    h.cycle_finished("a", at(10), ok=True)
    h.cycle_finished("b", at(10), ok=False, error="SchemaDrift: /adv/v1/promotion/count")
    ok, reasons = h.check(at(11))
    assert not ok and reasons == ["account b: last cycle failed: SchemaDrift: /adv/v1/promotion/count"]
    h.cycle_finished("b", at(70), ok=True)
    assert h.check(at(71)) == (True, [])


def test_staleness() -> None:
    h = Health(T0, max_age=timedelta(minutes=5), accounts=["a"])
    h.cycle_finished("a", at(0), ok=True)
    assert h.check(at(300))[0]
    ok, reasons = h.check(at(301))
    assert not ok and reasons == ["account a: last successful cycle 5m01s ago (limit 5m00s)"]
    # A cycle stuck in progress does not refresh anything.
    h.cycle_started("a", at(100))
    assert not h.check(at(400))[0]


def test_reload_keeps_history_of_remaining_accounts() -> None:
    h = Health(T0, max_age=timedelta(minutes=5), grace=timedelta(seconds=1), accounts=["a", "b"])
    h.cycle_finished("a", at(5), ok=True)
    h.set_accounts(["a", "c"])
    ok, reasons = h.check(at(10))
    assert not ok and reasons == ["account c: no cycle completed since start-up 10s ago"]
    assert set(h.report(at(10))["accounts"]) == {"a", "c"}
    assert h.report(at(10))["accounts"]["a"]["last_ok"] is True


def test_stopping_and_report_shape() -> None:
    h = Health(T0, accounts=["a"])
    body = h.report(at(1))
    assert body["status"] == "ok" and "reasons" not in body
    assert body["accounts"]["a"] == {
        "last_started": None, "last_finished": None, "last_ok": None, "last_error": None, "last_success": None, "token_days_left": None,
    }
    h.mark_stopping()
    body = h.report(at(2))
    assert body["status"] == "unhealthy" and body["reasons"] == ["shutting down"]


def test_metrics_forget_account() -> None:
    m = Metrics()
    m.cycle("gone", 1.0, True, T0)
    m.bid_changed("gone")
    assert b'account="gone"' in m.render()
    m.forget_account("gone")
    m.forget_account("never-seen")
    assert b'account="gone"' not in m.render()
    m.cycle("x", 0.5, True, T0.timestamp())
    assert b'bidder_cycles_total{account="x",result="ok"} 1.0' in m.render()


def test_clock_driven_api() -> None:
    from bidder.clock import FakeClock

    clock = FakeClock(T0)
    h = Health(max_age=timedelta(minutes=5), clock=clock)
    h.register("a")
    h.register("a")
    assert h.check() == (True, [])
    clock.advance(10)
    h.record("a", False, "TemporaryError: 503")
    assert h.check() == (False, ["account a: last cycle failed: TemporaryError: 503"])
    h.record("a", True, None, clock.now())
    assert h.report()["status"] == "ok"
    h.unregister("a")
    assert h.report()["accounts"] == {}
    with pytest.raises(ValueError):
        Health()
