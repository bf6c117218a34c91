"""The dashboard's cluster page (``/cluster``): which worker process holds which seller account, the
fencing epochs, the heartbeats' age and the leases' time left (:func:`bidder.store.cluster.cluster_view`,
the database's clock). On SQLite: one worker process, said so."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bidder.dashboard.i18n import STRINGS
from bidder.notify.i18n import fmt_duration
from bidder.store.cluster import cluster_view

STRINGS["ru"].update({
    "nav.cluster": "Кластер", "cluster.title": "Кластер: рабочие процессы и аренды",
    "cluster.sqlite": "База SQLite: кабинеты обслуживает один рабочий процесс. Несколько процессов "
                      "работают только с PostgreSQL (см. docs/SCALING.md).",
    "cluster.workers": "Рабочие процессы", "cluster.live_of": "живы", "cluster.worker": "Процесс",
    "cluster.state": "Состояние", "cluster.live": "работает", "cluster.gone": "не отвечает",
    "cluster.host": "Хост, pid", "cluster.heartbeat": "Пульс", "cluster.ago": "назад",
    "cluster.accounts": "Кабинеты", "cluster.jobs": "Задачи", "cluster.none": "рабочих процессов нет",
    "cluster.leases": "Аренды кабинетов", "cluster.job_leases": "Аренды задач", "cluster.holder": "Держатель",
    "cluster.epoch": "Эпоха", "cluster.campaigns": "Кампаний", "cluster.expires": "Истекает через",
    "cluster.free": "свободна", "cluster.last": "последний",
})
STRINGS["en"].update({
    "nav.cluster": "Cluster", "cluster.title": "Cluster: workers and leases",
    "cluster.sqlite": "SQLite database: one worker process serves the accounts. Several workers need "
                      "PostgreSQL (see docs/SCALING.md).",
    "cluster.workers": "Workers", "cluster.live_of": "live", "cluster.worker": "Worker",
    "cluster.state": "State", "cluster.live": "live", "cluster.gone": "gone",
    "cluster.host": "Host, pid", "cluster.heartbeat": "Heartbeat", "cluster.ago": "ago",
    "cluster.accounts": "Accounts", "cluster.jobs": "Jobs", "cluster.none": "no worker processes",
    "cluster.leases": "Account leases", "cluster.job_leases": "Job leases", "cluster.holder": "Holder",
    "cluster.epoch": "Epoch", "cluster.campaigns": "Campaigns", "cluster.expires": "Expires in",
    "cluster.free": "free", "cluster.last": "last",
})


async def cluster_page(dashboard: Any, request: web.Request) -> web.Response:
    async with dashboard.deps.read_sessions() as s:
        view = await cluster_view(s)
    loc = dashboard.locale(request)
    return dashboard.render(request, "cluster.html", cluster=view,
                            duration=lambda v: fmt_duration(v, loc))
