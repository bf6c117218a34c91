"""Pluggable bid strategies. Pure: a snapshot and ``now`` in, proposals out; no I/O.

To add a strategy: write one module with a ``Params`` model and a ``Strategy`` subclass, and add one
line to :data:`REGISTRY` in ``strategies/registry.py``.
"""
