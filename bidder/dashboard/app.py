"""The web dashboard: server-rendered pages on the daemon's HTTP server.

``setup_dashboard(web_app, deps)`` adds the routes to an aiohttp application (``bidder.http`` does it
for the daemon and for ``bidder demo``). Pages read through :mod:`bidder.store.dashboard` on read-only
sessions; actions go through the operator facade (:class:`bidder.notify.control.Control`), audited as
``"dashboard"``.

Pages: ``/`` overview, ``/campaigns`` (sortable, filterable, paginated in SQL), ``/campaigns/{id}``
(charts and the decision timeline), ``/audit`` (filters, ``/audit.csv``), ``/config``, ``/cluster`` (workers and leases); ``/login``,
``/logout``; actions are POSTs under ``/actions/`` and ``/campaigns/{id}/``.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from bidder.dashboard import auth
from bidder.dashboard.cluster_page import cluster_page
from bidder.dashboard.figures import _budgets, _charts, _defaults, _params_text, _thresholds, _tokens
from bidder.dashboard.hosts import allowed_hosts, host_check
from bidder.dashboard.i18n import DEFAULT_LOCALE, LOCALES, decision_reason, norm_locale, translate
from bidder.dashboard.web_helpers import (
    _STATIC,
    _csv_safe,
    _int,
    _json_script,
    _parse_day,
    _security_headers,
    _status_keys,
    _zone,
)
from bidder.engine.preview import preview_campaign
from bidder.notify.i18n import fmt_money, fmt_number
from bidder.store import dashboard as q

log = logging.getLogger("bidder.dashboard")

HERE = Path(__file__).resolve().parent
LANG_COOKIE = "bidder_lang"
PAGE_SIZE = 50
BY = "dashboard"  # who did it, in the audit trail and the operator_state rows
CSV_FIELDS = ("id", "at", "account", "advert_id", "nm_id", "placement", "norm_query", "strategy", "action",
              "bid_before", "bid_after", "proposed_bid", "guard", "dry_run", "apply_status", "api_error",
              "reason", "inputs")


@dataclass
class DashboardDeps:
    """What the dashboard reads and acts through. Callables so that a reloaded config is seen at once."""

    read_sessions: Any  # async_sessionmaker: read-only sessions
    clock: Any  # bidder.clock.Clock
    config: Callable[[], Any]  # -> BidderConfig | None
    control: Any = None  # bidder.notify.control.Control; None: no actions at all
    password: Any = None  # SecretStr | str | None; hashed at once, never kept
    settings: Any = None  # bidder.settings.Settings, shown redacted on /config
    metrics: Any = None  # bidder.metrics.Metrics: WB calls per endpoint
    disabled: Callable[[], Mapping[str, str]] = field(default=lambda: {})  # account -> why not served
    reload_error: Callable[[], str | None] = field(default=lambda: None)
    default_dry_run: bool = False
    # account -> its running engine (bidder.engine.cycle.AccountCycle) or None: WB's minimum bids, the
    # recommendations and the statistics' age for the campaign page's preview
    engine: Callable[[str], Any] = field(default=lambda name: None)
    # the Host header must name one of these (DNS rebinding): see bidder.dashboard.hosts
    bind_host: str | None = None  # the HTTP server's bind host; None: settings.http_host
    extra_hosts: tuple[str, ...] = ()  # more names (settings.dashboard_hosts)


class Dashboard:
    def __init__(self, deps: DashboardDeps) -> None:
        self.deps = deps
        secret = deps.password.get_secret_value() if hasattr(deps.password, "get_secret_value") else deps.password
        self.password = auth.PasswordHash.of(secret) if secret else None
        self.sessions = auth.Sessions()
        self.limiter = auth.LoginLimiter()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(HERE / "templates")),
            autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
            trim_blocks=True, lstrip_blocks=True,
        )
        self._quota: deque[tuple[datetime, dict[str, tuple[float, float]]]] = deque()

    # ------------------------------------------------------------------------------ request context

    @property
    def read_only(self) -> bool:
        return self.password is None or self.deps.control is None

    def locale(self, request: web.Request) -> str:
        lang = request.query.get("lang") or request.cookies.get(LANG_COOKIE) or DEFAULT_LOCALE
        return norm_locale(lang)

    def session(self, request: web.Request) -> auth.Session | None:
        if self.password is None:
            return None
        return self.sessions.get(request.cookies.get(auth.SESSION_COOKIE))

    def render(self, request: web.Request, template: str, http_status: int = 200, **ctx: Any) -> web.Response:
        loc = self.locale(request)
        sess = self.session(request)
        now = self.deps.clock.now()

        def t(key: str) -> str:
            return translate(loc, key)

        def url(**changes: Any) -> str:
            params = dict(request.query)
            params.pop("lang", None)
            for k, v in changes.items():
                if v is None:
                    params.pop(k, None)
                else:
                    params[k] = str(v)
            return request.path + ("?" + urlencode(params) if params else "")

        base = {
            "t": t, "lang": loc, "other_lang": "en" if loc == "ru" else "ru", "path": request.path,
            "url": url, "now": now, "read_only": self.read_only, "password_set": self.password is not None,
            "logged_in": sess is not None, "can_act": sess is not None and not self.read_only,
            "csrf": sess.csrf if sess else "", "flash": request.query.get("done"),
            "money": lambda v, cur="RUB": fmt_money(None if v is None else round(float(v)), loc, cur, 0),
            "kop": lambda v, cur="RUB": "—" if v is None else fmt_money(v / 100, loc, cur),
            "num": lambda v, d=0: fmt_number(v, loc, d),
            "pct": lambda v: "—" if v is None else fmt_number(v, loc, 1) + "%",
            "ts": lambda v: "—" if v is None else v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "status_name": lambda s: translate(loc, f"status.{s}") if f"status.{s}" in _status_keys() else str(s),
            "action_name": lambda a: translate(loc, f"action.{a}"),
            "reason": lambda d, cur="RUB": decision_reason(d, loc, cur),
            "tojson": lambda v: _json_script(v),
        }
        base.update(ctx)
        body = self.env.get_template(template).render(**base)
        resp = web.Response(text=body, status=http_status, content_type="text/html", charset="utf-8")
        _security_headers(resp)
        if "lang" in request.query and request.query["lang"] in LOCALES:
            resp.set_cookie(LANG_COOKIE, loc, max_age=365 * 86400, httponly=True, samesite="Strict", path="/")
        return resp

    def config(self) -> Any:
        with contextlib.suppress(Exception):
            return self.deps.config()
        return None

    def account_cfg(self, name: str) -> Any:
        cfg = self.config()
        if cfg is None:
            return None
        for a in cfg.accounts:
            if a.name == name:
                return a
        return None

    # ------------------------------------------------------------------------------ pages

    async def overview(self, request: web.Request) -> web.Response:
        now = self.deps.clock.now()
        disabled = dict(self.deps.disabled() or {})
        rows = []
        async with self.deps.read_sessions() as s:
            accounts = await q.accounts(s)
            for acc in accounts:
                tz = _zone(acc.timezone)
                today = now.astimezone(tz).date()
                day_start = datetime.combine(today, time(0), tz).astimezone(UTC)
                cfg = self.account_cfg(acc.name)
                max_bid = cfg.guardrails.max_bid_minor if cfg is not None else None
                fig = await q.account_figures(s, acc, today=today, week_start=today - timedelta(days=6),
                                              day_start=day_start, max_bid_minor=max_bid)
                view = self._account_view(fig, cfg, disabled.get(acc.name), now)
                spent = await q.spend_on(s, acc.id, [adv for adv, _ in view["budgets"]], today)
                view["budgets"] = [(adv, budget, spent.get(adv, 0.0)) for adv, budget in view["budgets"]]
                rows.append(view)
            alerts = await q.recent_alerts(s, now - timedelta(hours=24))
        return self.render(request, "overview.html", accounts=rows, alerts=alerts, quota=self._quota_rows(now),
                           default_dry_run=self.deps.default_dry_run)

    def _account_view(self, fig: q.AccountFigures, cfg: Any, disabled: str | None, now: datetime) -> dict:
        cyc = fig.last_cycle
        health = "unknown"
        if disabled:
            health = "failing"
        elif cyc is not None and cyc.ok is not None:
            health = "ok" if cyc.ok else "failing"
        th = _thresholds(_defaults(cfg))
        return {
            "fig": fig, "health": health, "disabled": disabled, "cycle": cyc,
            "tokens": _tokens(cfg, now), "thresholds": th,
            "roi_week": fig.week.roi(th["margin_pct"]) if th.get("margin_pct") else None,
            "budgets": _budgets(cfg),
        }

    def _quota_rows(self, now: datetime) -> list[tuple[str, int, int]]:
        m = self.deps.metrics
        if m is None:
            return []
        current: dict[str, tuple[float, float]] = {}
        for metric in m.api_calls.collect():
            for sample in metric.samples:
                if not sample.name.endswith("_total"):
                    continue
                method = sample.labels.get("method", "?")
                calls, limited = current.get(method, (0.0, 0.0))
                limited += sample.value if sample.labels.get("status") == "429" else 0.0
                current[method] = (calls + sample.value, limited)
        if not self._quota or now - self._quota[-1][0] >= timedelta(minutes=1):
            self._quota.append((now, current))
        while len(self._quota) > 1 and self._quota[1][0] <= now - timedelta(hours=1):
            self._quota.popleft()
        base = self._quota[0][1] if self._quota and self._quota[0][0] <= now - timedelta(hours=1) else {}
        out = []
        for method, (calls, limited) in sorted(current.items()):
            c0, l0 = base.get(method, (0.0, 0.0))
            if calls - c0 > 0:
                out.append((method, int(calls - c0), int(limited - l0)))
        return out

    async def campaigns(self, request: web.Request) -> web.Response:
        now = self.deps.clock.now()
        qs = request.query
        page = _int(qs.get("page"), 1, lo=1)
        sort = qs.get("sort", "advert_id")
        if sort not in q.SORTS:
            sort = "advert_id"
        desc = qs.get("dir") == "desc"
        account = qs.get("account") or None
        status = _int(qs.get("status"), None) if qs.get("status") not in (None, "") else None
        text = (qs.get("q") or "").strip()[:100] or None
        paused_only = qs.get("paused") == "1"
        async with self.deps.read_sessions() as s:
            accounts = await q.accounts(s)
            tz = _zone(next((a.timezone for a in accounts if a.name == account), None)
                       or (accounts[0].timezone if accounts else "Europe/Moscow"))
            today = now.astimezone(tz).date()
            result = await q.campaign_page(
                s, today=today, week_start=today - timedelta(days=6), account=account, status=status,
                query=text, paused_only=paused_only, sort=sort, descending=desc,
                offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        pages = max(1, -(-result.total // PAGE_SIZE))
        lines = []
        cache: dict[tuple[str, int], dict] = {}
        for line in result.lines:
            cfg = self.account_cfg(line.account)
            key = (line.account, line.advert_id)
            th = cache.get(key)
            if th is None:
                th = cache[key] = _thresholds(cfg.strategies_for(line.advert_id) if cfg is not None else [])
            lines.append({"c": line, "th": th,
                          "roi": line.week.roi(th["margin_pct"]) if th.get("margin_pct") else None})
        return self.render(
            request, "campaigns.html", lines=lines, total=result.total, page=page, pages=pages, sort=sort,
            desc=desc, accounts=[a.name for a in accounts], account=account, status=status, q=text or "",
            paused_only=paused_only, statuses=(9, 11, 4, 7, 8, -1))

    async def campaign(self, request: web.Request) -> web.Response:
        advert_id = _int(request.match_info["advert_id"], None)
        if advert_id is None:
            raise web.HTTPNotFound()
        days = 30 if request.query.get("days") == "30" else 7
        offset = _int(request.query.get("offset"), 0, lo=0)
        now = self.deps.clock.now()
        async with self.deps.read_sessions() as s:
            info = await q.campaign(s, advert_id)
            if info is None:
                return self.render(request, "error.html", http_status=404, message=f"campaign {advert_id}: not found")
            tz = _zone(info.account.timezone)
            today = now.astimezone(tz).date()
            since_day = today - timedelta(days=days - 1)
            since = datetime.combine(since_day, time(0), tz).astimezone(UTC)
            stats = await q.daily_stats(s, info.account.id, advert_id, since_day)
            bids = await q.bid_history(s, info.account.id, advert_id, since)
            clusters = await q.cluster_bid_history(s, info.account.id, advert_id, since)
            timeline, more = await q.decisions(
                s, q.AuditFilter(account=info.account.name, advert_id=advert_id,
                                 hide_holds=request.query.get("holds") != "1"),
                offset=offset, limit=PAGE_SIZE)
            cfg = self.account_cfg(info.account.name)
            cycle = self.deps.engine(info.account.name)
            preview = None if cfg is None else await preview_campaign(
                s, cfg, advert_id, now, view=getattr(cycle, "view", None),
                stop_file=getattr(getattr(cycle, "evaluator", None), "stop_file", None),
                stopped=cycle is not None and cycle.evaluator.stopped())
        strategies = []
        if cfg is not None:
            for st in cfg.strategies_for(advert_id):
                strategies.append((st.kind, _params_text(st.params)))
        charts = _charts(info, stats, bids, clusters, since, now, since_day, today)
        return self.render(request, "campaign.html", c=info, days=days, charts=charts, timeline=timeline,
                           more=more, offset=offset, strategies=strategies, preview=preview,
                           cur=info.account.currency or "RUB",
                           show_holds=request.query.get("holds") == "1")

    def _audit_filter(self, request: web.Request) -> q.AuditFilter:
        qs = request.query
        return q.AuditFilter(
            account=qs.get("account") or None,
            advert_id=_int(qs.get("campaign"), None) if qs.get("campaign") else None,
            action=qs.get("action") if qs.get("action") in ("set_bid", "pause", "resume", "hold") else None,
            since=_parse_day(qs.get("since")), until=_parse_day(qs.get("until"), end=True),
            hide_holds=qs.get("holds") == "0",
        )

    async def audit(self, request: web.Request) -> web.Response:
        f = self._audit_filter(request)
        offset = _int(request.query.get("offset"), 0, lo=0)
        async with self.deps.read_sessions() as s:
            rows, more = await q.decisions(s, f, offset=offset, limit=PAGE_SIZE)
            accounts = [a.name for a in await q.accounts(s)]
        csv_url = "/audit.csv" + ("?" + urlencode(dict(request.query)) if request.query else "")
        return self.render(request, "audit.html", rows=rows, more=more, offset=offset, f=f, accounts=accounts,
                           qs=request.query, csv_url=csv_url)

    async def audit_csv(self, request: web.Request) -> web.StreamResponse:
        f = self._audit_filter(request)
        loc = self.locale(request)
        resp = web.StreamResponse(headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="bidder-audit.csv"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        })
        await resp.prepare(request)
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CSV_FIELDS)
        async with self.deps.read_sessions() as s:
            async for chunk in q.iter_decisions(s, f):
                for d in chunk:
                    writer.writerow([
                        d.id, d.at.isoformat(), d.account, d.advert_id, d.nm_id, d.placement, d.norm_query,
                        d.strategy, d.action, d.bid_before, d.bid_after, d.proposed_bid, d.guard, d.dry_run,
                        d.apply_status, d.api_error, _csv_safe(decision_reason(d, loc)),
                        json.dumps(d.inputs, ensure_ascii=False, default=str, sort_keys=True),
                    ])
                await resp.write(buf.getvalue().encode("utf-8"))
                buf.seek(0)
                buf.truncate()
        await resp.write_eof()
        return resp

    async def config_page(self, request: web.Request) -> web.Response:
        from bidder.dashboard.redact import redacted_config, redacted_settings

        cfg = self.config()
        secrets = list(cfg.secrets()) if cfg is not None else []
        if self.deps.settings is not None:
            for v in (getattr(self.deps.settings, "telegram_bot_token", None),
                      getattr(self.deps.settings, "dashboard_password", None)):
                if v is not None and hasattr(v, "get_secret_value") and v.get_secret_value():
                    secrets.append(v.get_secret_value())
        config_text = redacted_config(cfg, secrets)
        settings_text = redacted_settings(self.deps.settings, secrets)
        error = self.deps.reload_error()
        if error:
            for sec in secrets:
                error = error.replace(sec, "**********")
        return self.render(request, "config.html", config_text=config_text, settings_text=settings_text,
                           reload_error=error, source=getattr(cfg, "source", None))

    # ------------------------------------------------------------------------------ auth

    async def login_form(self, request: web.Request) -> web.Response:
        if self.password is None:
            raise web.HTTPSeeOther("/")
        token = auth.secrets.token_urlsafe(24)
        resp = self.render(request, "login.html", login_csrf=token, error=request.query.get("error"))
        resp.set_cookie(auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/login",
                        max_age=3600)
        return resp

    async def login(self, request: web.Request) -> web.Response:
        if self.password is None:
            raise web.HTTPForbidden(text="read-only dashboard: no password is configured")
        form = await request.post()
        if not auth.same(str(form.get("csrf", "")), request.cookies.get(auth.LOGIN_CSRF_COOKIE)):
            raise web.HTTPForbidden(text="CSRF token missing or wrong")
        client = request.remote or "?"
        if not self.limiter.allowed(client):
            return self._redirect(request, "/login?error=limited", status=429)
        if not self.password.verify(str(form.get("password", ""))):
            self.limiter.failed(client)
            log.warning("dashboard: failed login from %s", client)
            return self._redirect(request, "/login?error=bad")
        self.limiter.succeeded(client)
        sess = self.sessions.create()
        resp = self._redirect(request, "/")
        resp.set_cookie(auth.SESSION_COOKIE, sess.token, httponly=True, samesite="Strict", path="/",
                        max_age=auth.SESSION_TTL_S, secure=request.secure)
        resp.del_cookie(auth.LOGIN_CSRF_COOKIE, path="/login")
        return resp

    async def logout(self, request: web.Request) -> web.Response:
        await self._require_csrf(request)
        self.sessions.drop(request.cookies.get(auth.SESSION_COOKIE))
        resp = self._redirect(request, "/")
        resp.del_cookie(auth.SESSION_COOKIE, path="/")
        return resp

    def _redirect(self, request: web.Request, location: str, status: int = 303) -> web.Response:
        resp = web.Response(status=status, headers={"Location": location})
        if status == 429:
            resp.text = "too many login attempts"
        return resp

    async def _require_csrf(self, request: web.Request) -> Mapping[str, Any]:
        """Every state-changing request: a live session and its CSRF token (form field ``csrf`` or the
        ``X-CSRF-Token`` header). Read-only dashboards refuse them all."""
        if self.read_only:
            raise web.HTTPForbidden(text="read-only dashboard: actions are disabled")
        sess = self.session(request)
        if sess is None:
            raise web.HTTPForbidden(text="log in first")
        form = await request.post()
        token = str(form.get("csrf", "")) or request.headers.get("X-CSRF-Token", "")
        if not auth.same(token, sess.csrf):
            raise web.HTTPForbidden(text="CSRF token missing or wrong")
        return form

    # ------------------------------------------------------------------------------ actions

    async def act_campaign(self, request: web.Request) -> web.Response:
        await self._require_csrf(request)
        advert_id = _int(request.match_info["advert_id"], None)
        what = request.match_info["what"]
        if advert_id is None or what not in ("pause", "resume"):
            raise web.HTTPNotFound()
        from bidder.notify.control import UnknownCampaign

        control = self.deps.control
        try:
            result = await (control.pause if what == "pause" else control.resume)(advert_id, BY)
        except UnknownCampaign as exc:
            raise web.HTTPNotFound(text=str(exc)) from None
        log.info("dashboard: %s campaign %s (changed: %s)", what, advert_id, result.changed)
        return self._redirect(request, f"/campaigns/{advert_id}?done={what}{'' if result.changed else '-'}")

    async def act_all(self, request: web.Request) -> web.Response:
        form = await self._require_csrf(request)
        what = request.match_info["what"]
        control = self.deps.control
        if what == "pause-all":
            result = await control.pause("all", BY)
        elif what == "resume-all":
            result = await control.resume("all", BY)
        elif what == "dry-run":
            result = await control.set_dry_run(str(form.get("on", "")) in ("1", "on", "true"), BY)
        else:
            raise web.HTTPNotFound()
        log.info("dashboard: %s (changed: %s)", result.action, result.changed)
        return self._redirect(request, f"/?done={result.action}{'' if result.changed else '-'}")

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        resp = web.FileResponse(HERE / "static" / name, headers={"Cache-Control": "public, max-age=3600"})
        return resp


def setup_dashboard(app: web.Application, deps: DashboardDeps) -> Dashboard:
    """Add the dashboard's routes to ``app`` (next to /healthz and /metrics)."""
    d = Dashboard(deps)
    settings = deps.settings
    bind = deps.bind_host if deps.bind_host is not None else getattr(settings, "http_host", None)
    extra = (*deps.extra_hosts, *str(getattr(settings, "dashboard_hosts", "") or "").split(","))
    app.middlewares.append(host_check(allowed_hosts(bind, extra)))
    r = app.router
    r.add_get("/", d.overview)
    r.add_get("/campaigns", d.campaigns)
    r.add_get("/campaigns/{advert_id}", d.campaign)
    r.add_post("/campaigns/{advert_id}/{what}", d.act_campaign)
    r.add_get("/audit", d.audit)
    r.add_get("/audit.csv", d.audit_csv)
    r.add_get("/config", d.config_page)
    r.add_get("/cluster", functools.partial(cluster_page, d))  # bidder/dashboard/cluster_page.py
    r.add_get("/login", d.login_form)
    r.add_post("/login", d.login)
    r.add_post("/logout", d.logout)
    r.add_post("/actions/{what}", d.act_all)
    r.add_get("/static/{name}", d.static)
    return d


def deps_for_app(bidder_app: Any) -> DashboardDeps:
    """The dashboard's collaborators from a built :class:`bidder.app.App`."""
    settings = bidder_app.settings
    return DashboardDeps(
        read_sessions=bidder_app.read_sessions or bidder_app.sessions,
        clock=bidder_app.clock,
        config=lambda: bidder_app.config,
        control=bidder_app.control,
        password=getattr(settings, "dashboard_password", None),
        settings=settings,
        metrics=bidder_app.metrics,
        disabled=lambda: bidder_app.disabled,
        reload_error=lambda: getattr(bidder_app, "reload_error", None),
        default_dry_run=bidder_app.dry_run,
        engine=lambda name: bidder_app.cycles.get(name),
    )


async def serve_dashboard(bidder_app: Any, port: int = 0, host: str | None = None) -> Any:
    """Start the HTTP server (/healthz, /metrics and the dashboard) for a built App; ``bidder demo`` and
    the browser tests use it (the daemon's ``App.serve`` mounts the dashboard itself). Returns the
    :class:`bidder.http.HttpServer`."""
    from bidder.http import start_http

    deps = deps_for_app(bidder_app)
    deps.bind_host = host or deps.bind_host
    return await start_http(port, host, bidder_app.health, bidder_app.metrics, bidder_app.clock,
                            extra=lambda web_app: setup_dashboard(web_app, deps))
