"""The cluster view as plain text (``bidder status``), in Russian (the default) or English: every worker
(live or gone, its heartbeat's age, the accounts and one-of-a-kind jobs it holds) and every lease (holder,
fencing epoch, campaigns, time left). The dashboard renders the same :class:`~bidder.store.cluster.ClusterView`."""

from __future__ import annotations

from bidder.notify.i18n import fmt_duration, norm_locale
from bidder.store.cluster import ClusterView

TEXT = {
    "ru": {
        "title": "Кластер",
        "sqlite": "база SQLite: один рабочий процесс (несколько процессов работают только с PostgreSQL)",
        "none": "рабочих процессов нет",
        "workers": "Рабочие процессы: {live} из {total} живы",
        "worker": "  {id} — {state}; {host}, pid {pid}{port}; пульс {age} назад; кабинетов: {n}{jobs}",
        "live": "работает", "gone": "не отвечает", "port": ", /healthz на порту {port}", "jobs": "; задачи: {jobs}",
        "leases": "Аренды",
        "lease": "  {name}: {holder}; эпоха {epoch}; кампаний {campaigns}; {left}",
        "free": "свободна (последний: {last})", "left": "истекает через {left}", "expired": "—",
        "job": "задача {name}",
    },
    "en": {
        "title": "Cluster",
        "sqlite": "SQLite database: one worker process (several workers need PostgreSQL)",
        "none": "no worker processes",
        "workers": "Workers: {live} of {total} live",
        "worker": "  {id} — {state}; {host}, pid {pid}{port}; heartbeat {age} ago; accounts: {n}{jobs}",
        "live": "live", "gone": "gone", "port": ", /healthz on port {port}", "jobs": "; jobs: {jobs}",
        "leases": "Leases",
        "lease": "  {name}: {holder}; epoch {epoch}; campaigns {campaigns}; {left}",
        "free": "free (last: {last})", "left": "expires in {left}", "expired": "—",
        "job": "job {name}",
    },
}


def render_cluster(view: ClusterView | None, locale: str = "ru") -> str:
    loc = norm_locale(locale)
    t = TEXT[loc]
    if view is None:
        return f"{t['title']}: {t['sqlite']}"
    lines = [f"{t['title']}"]
    if not view.workers:
        lines.append("  " + t["none"])
    else:
        lines.append(t["workers"].format(live=view.live_workers, total=len(view.workers)))
    for w in view.workers:
        lines.append(t["worker"].format(
            id=w.id, state=t["live"] if w.live else t["gone"], host=w.host or "-", pid=w.pid,
            port=t["port"].format(port=w.http_port) if w.http_port else "", age=fmt_duration(w.heartbeat_age_s, loc),
            n=len(w.accounts), jobs=t["jobs"].format(jobs=", ".join(w.jobs)) if w.jobs else ""))
    if view.leases:
        lines.append(t["leases"])
    for x in view.leases:
        holder = x.holder if x.holder is not None else t["free"].format(last=x.last_holder or "-")
        left = t["left"].format(left=fmt_duration(x.expires_in_s, loc)) if x.expires_in_s is not None else t["expired"]
        lines.append(t["lease"].format(name=t["job"].format(name=x.name) if x.job else x.name, holder=holder,
                                       epoch=x.epoch, campaigns=x.campaigns, left=left))
    return "\n".join(lines)
