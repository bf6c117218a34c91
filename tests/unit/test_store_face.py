"""``bidder.store.repo`` is the old face of the store, kept for one release: every public name of the
aggregate modules is re-exported there, as the very same object, so ``repo.<function>`` keeps working."""

from __future__ import annotations

import inspect
from importlib import import_module

MODULES = ("accounts", "campaigns", "stats", "audit", "alerts", "operator_state", "cycles")


def _public(module) -> dict[str, object]:
    return {
        name: obj
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (
            ((inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__)
            or (name.isupper() and not inspect.ismodule(obj))  # constants: DEDUP_PERIOD, APPLIED_STATUSES
        )
    }


def test_repo_re_exports_every_public_name_of_the_store_modules() -> None:
    repo = import_module("bidder.store.repo")
    missing, different = [], []
    for m in MODULES:
        module = import_module(f"bidder.store.{m}")
        public = _public(module)
        assert public, m
        for name, obj in public.items():
            if not hasattr(repo, name):
                missing.append(f"{m}.{name}")
            elif getattr(repo, name) is not obj:
                different.append(f"{m}.{name}")
    assert (missing, different) == ([], [])
    assert sorted(repo.__all__) == sorted(n for n in vars(repo) if not n.startswith("_") and n != "annotations")
