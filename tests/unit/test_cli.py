"""The command line: help, exit codes, check-config, token-info (minted JWTs), db upgrade and history."""

from __future__ import annotations

import asyncio
import io
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bidder.cli import COMMANDS, Context, _since, format_history, main
from bidder.wb.tokens import mint_token

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bidder.yaml"
NOW = datetime.now(UTC)


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), ctx=Context(out=out, err=err))
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No stray BIDDER_* variables or .env file from the developer's shell."""
    import os

    for name in list(os.environ):
        if name.startswith("BIDDER_") or name.startswith("WB_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


# ------------------------------------------------------------------------------------ structure


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("check-config", "token-info", "db", "history"):
        assert name in out
    assert main(["db", "--help"]) == 0
    assert "upgrade" in capsys.readouterr().out
    assert {c.name for c in COMMANDS} >= {("check-config",), ("token-info",), ("db", "upgrade"), ("history",)}


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["no-such-command"]) == 2
    assert main(["db"]) == 2
    assert main(["history", "--limit", "0"]) == 2
    assert main(["history", "--since", "yesterday-ish"]) == 2
    capsys.readouterr()


def test_python_dash_m_entry_point() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "bidder", "--help"], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "check-config" in proc.stdout


# ------------------------------------------------------------------------------------ check-config


def test_check_config_example_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_READ_TOKEN", mint_token("s", read_only=True))
    monkeypatch.setenv("WB_WRITE_TOKEN", mint_token("s"))
    r = run("check-config", str(EXAMPLE))
    assert r.code == 0
    assert r.out == f"{EXAMPLE}: OK (1 account, 4 listed campaigns, 0 warnings)\n"


def test_check_config_default_path_from_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    r = run("check-config")
    assert r.code == 2
    assert r.out.splitlines()[0] == "bidder.yaml: no such file"
    monkeypatch.setenv("BIDDER_CONFIG", str(EXAMPLE))
    r = run("check-config")
    assert r.code == 2
    assert "environment variable WB_READ_TOKEN is not set" in r.out
    (tmp_path / ".env").write_text(f"BIDDER_CONFIG={tmp_path / 'from-dotenv.yaml'}\n")
    monkeypatch.delenv("BIDDER_CONFIG")
    assert run("check-config").out.startswith(f"{tmp_path / 'from-dotenv.yaml'}: no such file")


def test_check_config_broken_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("accounts: 5\n")
    r = run("check-config", str(path))
    assert r.code == 2
    assert r.out.splitlines() == [
        f"{path}:1: accounts: expected a list, got 5",
        f"{path}: 1 error, 0 warnings",
    ]


# ------------------------------------------------------------------------------------ token-info


def token_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: str, write: str | None) -> Path:
    monkeypatch.setenv("T_READ", read)
    lines = ["accounts:", "  - name: shop-a", "    read_token: ${T_READ}"]
    if write is not None:
        monkeypatch.setenv("T_WRITE", write)
        lines.append("    write_token: ${T_WRITE}")
    lines.append("    guardrails: {max_bid: 800}")
    path = tmp_path / "tokens.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def token_info(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: str, write: str | None) -> Run:
    r = run("token-info", "--config", str(token_config(tmp_path, monkeypatch, read, write)))
    assert read not in r.text
    assert write is None or write not in r.text
    return r


def test_token_info_good_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exp = NOW + timedelta(days=100, hours=1)
    read = mint_token("seller-42", read_only=True, expires_at=exp)
    write = mint_token("seller-42", categories=(6, 5), acc=4, expires_at=exp)
    r = token_info(tmp_path, monkeypatch, read, write)
    assert r.code == 0, r.text
    lines = r.out.splitlines()
    assert lines[0] == "account shop-a"
    assert lines[1] == (
        "  read_token: type Personal; categories: Promotion; read-only: yes; sandbox: no; "
        f"seller: seller-42; expires: {exp:%Y-%m-%d} (100 days left)"
    )
    assert lines[2] == (
        "  write_token: type Service; categories: Statistics, Promotion; read-only: no; sandbox: no; "
        f"seller: seller-42; expires: {exp:%Y-%m-%d} (100 days left)"
    )
    assert len(lines) == 3


def test_token_info_read_only_write_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = token_info(tmp_path, monkeypatch, mint_token("s", read_only=True), mint_token("s", read_only=True))
    assert r.code == 2
    assert "  write_token: error: the write token is read-only" in r.out.splitlines()
    assert r.out.splitlines()[-1] == "1 token error"


def test_token_info_wrong_category(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = token_info(tmp_path, monkeypatch, mint_token("s", categories=(1, 2)), mint_token("s"))
    assert r.code == 2
    assert "categories: Content, Analytics;" in r.out
    assert "  read_token: error: the token lacks the Promotion category" in r.out.splitlines()


def test_token_info_expired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = NOW - timedelta(days=3)
    r = token_info(tmp_path, monkeypatch, mint_token("s", expires_at=old), mint_token("s"))
    assert r.code == 2
    assert f"  read_token: error: the token expired on {old:%Y-%m-%d}" in r.out.splitlines()


def test_token_info_expires_soon_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    soon = NOW + timedelta(days=5, hours=1)
    r = token_info(tmp_path, monkeypatch, mint_token("s", expires_at=soon), None)
    assert r.code == 0
    assert "(5 days left)" in r.out
    assert "  read_token: warning: expires in 5 days; create a new token in the seller cabinet" in r.out
    assert "  write_token: not set (the account runs read-only: decisions are recorded, none sent)" in r.out


def test_token_info_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = token_info(
        tmp_path, monkeypatch, mint_token("s", sandbox=True, acc=2), mint_token("s", sandbox=True, acc=2)
    )
    assert r.code == 0, r.text
    assert r.out.count("type Test;") == 2 and r.out.count("sandbox: yes;") == 2
    mixed = token_info(tmp_path, monkeypatch, mint_token("s", sandbox=True, acc=2), mint_token("s"))
    assert mixed.code == 2
    assert "  error: one token is for the sandbox and the other is not" in mixed.out


def test_token_info_base_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = token_info(tmp_path, monkeypatch, mint_token("s", acc=1), mint_token("s"))
    assert r.code == 2
    assert "type Base;" in r.out
    assert "read_token: error: a Base token gets hourly quotas on the Promotion API" in r.out


def test_token_info_different_sellers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = token_info(tmp_path, monkeypatch, mint_token("a"), mint_token("b"))
    assert r.code == 2
    assert "  error: the read and write tokens belong to different sellers" in r.out


def test_token_info_not_a_jwt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = token_info(tmp_path, monkeypatch, "definitely-not-a-jwt-0123456789", mint_token("s"))
    assert r.code == 2
    assert "  read_token: error: the token is not a valid JWT (DecodeError)" in r.out


def test_token_info_config_errors_exit_2(tmp_path: Path) -> None:
    r = run("token-info", "--config", str(tmp_path / "missing.yaml"))
    assert r.code == 2
    assert r.err == f"{tmp_path / 'missing.yaml'}: no such file\n"


def test_invalid_settings_name_the_variable_not_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIDDER_HTTP_PORT", "70000")
    r = run("token-info")
    assert r.code == 2
    assert r.err.startswith("environment: BIDDER_HTTP_PORT: ")
    assert "70000" not in r.err


# ------------------------------------------------------------------------------------ db / history


def test_since_parsing() -> None:
    before = datetime.now(UTC)
    two_days = _since("2d")
    assert before - timedelta(days=2, seconds=5) < two_days <= datetime.now(UTC) - timedelta(days=2)
    assert _since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert _since("2026-11-01T10:00:00+03:00") == datetime(2026, 11, 1, 7, tzinfo=UTC)


def test_format_history_table() -> None:
    rows = [
        {
            "at": datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
            "account": "shop-a",
            "advert_id": 1000001,
            "nm_id": 55,
            "placement": "search",
            "strategy": "target_position",
            "action": "set_bid",
            "bid_before": 25000,
            "bid_after": 27550,
            "apply_status": "applied",
            "dry_run": False,
            "reason": "position 5 > target 3",
        },
        {
            "at": datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
            "account": "shop-a",
            "advert_id": 1000004,
            "action": "pause",
            "strategy": "schedule",
            "apply_status": "skipped",
            "dry_run": True,
            "reason": "outside\n08:00-23:00",
        },
    ]
    lines = format_history(rows).splitlines()
    assert lines[0].split() == [
        "time",
        "account",
        "campaign",
        "nm",
        "placement",
        "strategy",
        "action",
        "bid",
        "status",
        "reason",
    ]
    assert "250→275.50" in lines[1] and "applied" in lines[1] and lines[1].endswith("position 5 > target 3")
    assert "skipped (dry-run)" in lines[2] and lines[2].endswith("outside 08:00-23:00")
    assert format_history([]) == "no decisions found"


def test_db_upgrade_then_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("BIDDER_DATABASE_URL", url)
    r = run("db", "upgrade")
    assert r.code == 0, r.text
    assert r.out == "database schema is up to date\n"
    assert run("history").out == "no decisions found\n"

    from bidder.domain import Action, Decision
    from bidder.store import repo
    from bidder.store.db import make_engine, session_factory

    async def seed() -> None:
        engine = make_engine(url)
        try:
            async with session_factory(engine)() as s:
                await repo.ensure_account(s, "shop-a", "seller-1")
                await repo.ensure_account(s, "shop-b", "seller-2")
                for i, (acct, advert) in enumerate([("shop-a", 1), ("shop-a", 2), ("shop-b", 1)]):
                    d = Decision(
                        action=Action.SET_BID,
                        advert_id=advert,
                        strategy="spend_cap",
                        reason=f"reason {i}",
                        nm_id=10 + i,
                        placement="search",
                        bid_before=10000,
                        bid_after=9000,
                    )
                    await repo.record_decision(
                        s, acct, d, at=NOW - timedelta(days=i * 3), dry_run=True, apply_status="skipped"
                    )
                await s.commit()
        finally:
            await engine.dispose()

    asyncio.run(seed())
    all_rows = run("history").out.splitlines()
    assert len(all_rows) == 4 and "100→90" in all_rows[1]
    only_a = run("history", "--account", "shop-a").out.splitlines()
    assert len(only_a) == 3 and all("shop-b" not in line for line in only_a)
    assert len(run("history", "--campaign", "2").out.splitlines()) == 2
    assert len(run("history", "--since", "4d").out.splitlines()) == 3
    assert len(run("history", "--limit", "1").out.splitlines()) == 2


def test_db_upgrade_failure_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("BIDDER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/afile/x.db")
    r = run("db", "upgrade")
    assert r.code == 1
    assert r.err.startswith("error: ")


def test_check_config_output_is_dedented_example() -> None:
    """The example stays a commented file (a reader's first contact with the config)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.count("#") > 20
    assert textwrap.dedent(text) == text


def test_unexpected_failure_is_one_line_without_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("BIDDER_DATABASE_URL", "postgresql+asyncpg://bidder:s3cret-pw@127.0.0.1:1/bidder")
    r = run("db", "upgrade")
    assert r.code == 1
    assert r.err.startswith("error: ") and r.err.count("\n") == 1
    assert "s3cret-pw" not in r.text
