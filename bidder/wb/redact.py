"""Moved to :mod:`bidder.redact`; this re-export stays for one release (remaining importers: ``bidder.cli``,
``bidder.config``)."""

from bidder.redact import REPLACEMENT, RedactingFilter, install, redact, register_secret, sample, truncate

__all__ = ["REPLACEMENT", "RedactingFilter", "install", "redact", "register_secret", "sample", "truncate"]
