"""The web dashboard (issue 18): pages on the daemon's HTTP server, read through
:mod:`bidder.store.dashboard`, acting through :class:`bidder.notify.control.Control`."""

from bidder.dashboard.app import Dashboard, DashboardDeps, deps_for_app, serve_dashboard, setup_dashboard

__all__ = ["Dashboard", "DashboardDeps", "deps_for_app", "serve_dashboard", "setup_dashboard"]
