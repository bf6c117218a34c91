"""Dashboard authentication: a password from settings kept only as a salted scrypt hash, server-side
sessions behind an ``HttpOnly; SameSite=Strict`` cookie, a CSRF token per session, and a login rate limit.

Without a password configured there is no login and no session: the dashboard is read-only and every
state-changing request is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

SESSION_COOKIE = "bidder_session"
LOGIN_CSRF_COOKIE = "bidder_login_csrf"
SESSION_TTL_S = 12 * 3600
MAX_SESSIONS = 1000

# scrypt parameters: ~16 MiB and some tens of milliseconds per check, which is what makes guessing slow.
_N, _R, _P = 2**14, 8, 1


class PasswordHash:
    """``PasswordHash.of(secret)``; ``.verify(candidate)`` in constant time. The secret is not kept."""

    def __init__(self, salt: bytes, digest: bytes) -> None:
        self._salt = salt
        self._digest = digest

    @classmethod
    def of(cls, password: str) -> PasswordHash:
        salt = secrets.token_bytes(16)
        return cls(salt, cls._derive(password, salt))

    @staticmethod
    def _derive(password: str, salt: bytes) -> bytes:
        return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, maxmem=64 * 1024 * 1024,
                              dklen=32)

    def verify(self, candidate: str) -> bool:
        return hmac.compare_digest(self._derive(candidate, self._salt), self._digest)

    def __repr__(self) -> str:  # never anything derived from the password in a repr
        return "PasswordHash(<hidden>)"


@dataclass(slots=True)
class Session:
    token: str
    csrf: str
    expires: float


class Sessions:
    """In-memory sessions (a restart logs everybody out, which is fine for one operator's daemon)."""

    def __init__(self, ttl: float = SESSION_TTL_S, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._now = monotonic
        self._by_token: dict[str, Session] = {}

    def create(self) -> Session:
        now = self._now()
        if len(self._by_token) >= MAX_SESSIONS:
            self._by_token = {k: s for k, s in self._by_token.items() if s.expires > now}
            while len(self._by_token) >= MAX_SESSIONS:
                self._by_token.pop(next(iter(self._by_token)))
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + self._ttl)
        self._by_token[s.token] = s
        return s

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        s = self._by_token.get(token)
        if s is None:
            return None
        if s.expires <= self._now():
            self._by_token.pop(token, None)
            return None
        return s

    def drop(self, token: str | None) -> None:
        if token:
            self._by_token.pop(token, None)


class LoginLimiter:
    """At most ``attempts`` failed logins per ``window`` seconds per client address, and ``4 ×
    attempts`` overall (so rotating addresses does not help much)."""

    def __init__(self, attempts: int = 5, window: float = 300.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window = window
        self._now = monotonic
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def _trim(self, q: deque[float], now: float) -> None:
        while q and q[0] <= now - self.window:
            q.popleft()

    def allowed(self, client: str) -> bool:
        now = self._now()
        q = self._failures.get(client)
        if q is not None:
            self._trim(q, now)
        self._trim(self._all, now)
        return (q is None or len(q) < self.attempts) and len(self._all) < 4 * self.attempts

    def failed(self, client: str) -> None:
        now = self._now()
        self._failures.setdefault(client, deque()).append(now)
        self._all.append(now)
        if len(self._failures) > 10_000:
            self._failures.clear()

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
