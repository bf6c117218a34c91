"""The engine: one account's poll -> evaluate -> apply pass, its schedule, and the guardrails.

``bidder.engine.guards`` is pure (combination of proposals and guardrails); the rest does I/O.
"""
