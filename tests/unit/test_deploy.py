"""Static checks of the deployment files: the systemd unit (and its systemd-analyze exposure where the
tool exists), the Dockerfile (parsed; no Docker engine needed) and the docker-compose example."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "bidder.service"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
MAX_EXPOSURE = 2.5


# --------------------------------------------------------------------------------------------- systemd


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """section -> key -> values (repeated keys kept in order); continuation lines joined."""
    sections: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    current = None
    pending = ""
    for raw in path.read_text().splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        assert current is not None, f"key outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line}"
        sections[current][key.strip()].append(value.strip())
    return sections


@pytest.fixture(scope="module")
def unit() -> dict[str, dict[str, list[str]]]:
    return parse_unit(UNIT)


def one(unit: dict, section: str, key: str) -> str:
    values = unit[section].get(key)
    assert values, f"[{section}] {key}= missing"
    return values[-1]


def test_unit_is_a_notify_service_with_watchdog_and_restart(unit) -> None:
    svc = "Service"
    assert one(unit, svc, "Type") == "notify"
    assert one(unit, svc, "NotifyAccess") == "main"
    assert int(one(unit, svc, "WatchdogSec")) == 60
    assert one(unit, svc, "Restart") == "on-failure"
    assert one(unit, svc, "RestartSec")
    assert one(unit, svc, "ExecStart") == "/opt/bidder/.venv/bin/bidder run"
    assert one(unit, svc, "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert int(one(unit, svc, "TimeoutStopSec")) <= 15
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_unit_user_state_and_config(unit) -> None:
    svc = "Service"
    assert one(unit, svc, "User") not in ("", "root", "0")
    assert one(unit, svc, "StateDirectory") == "bidder"
    assert one(unit, svc, "WorkingDirectory") == "/var/lib/bidder"
    env = dict(v.split("=", 1) for v in unit[svc]["Environment"])
    assert env["BIDDER_CONFIG"] == "/etc/bidder/bidder.yaml"
    assert env["BIDDER_DATABASE_URL"].startswith("sqlite+aiosqlite:////var/lib/bidder/")


def test_unit_loads_tokens_as_credentials(unit) -> None:
    creds = dict(v.split(":", 1) for v in unit["Service"]["LoadCredential"])
    assert creds["wb-read-token"] == "/etc/bidder/credentials/wb-read-token"
    assert creds["wb-write-token"] == "/etc/bidder/credentials/wb-write-token"
    # No token is passed in the environment of the unit itself.
    assert not any("TOKEN" in v for v in unit["Service"].get("Environment", []))


def test_unit_hardening_directives(unit) -> None:
    svc = unit["Service"]
    expected = {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "PrivateDevices": "yes", "CapabilityBoundingSet": "", "MemoryDenyWriteExecute": "yes",
        "LockPersonality": "yes", "RestrictNamespaces": "yes", "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
        "ProtectClock": "yes", "ProtectHostname": "yes", "ProtectProc": "invisible", "ProcSubset": "pid",
        "UMask": "0077",
    }
    for key, value in expected.items():
        assert svc.get(key, [None])[-1] == value, key
    assert set(svc["RestrictAddressFamilies"][-1].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert "@system-service" in svc["SystemCallFilter"]


def analyze_security(path: Path) -> tuple[float, str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    proc = subprocess.run(
        [tool, "security", "--offline=yes", "--no-pager", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    out = proc.stdout + proc.stderr
    if "--offline" in out and ("unrecognized" in out or "Unknown option" in out):
        pytest.skip("this systemd-analyze has no --offline mode (systemd < 250)")
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", out)
    assert m, f"no overall exposure in systemd-analyze output (rc={proc.returncode}):\n{out[-2000:]}"
    return float(m.group(1)), out


def test_systemd_analyze_security_exposure(tmp_path: Path) -> None:
    exposure, out = analyze_security(UNIT)
    assert exposure <= MAX_EXPOSURE, f"exposure {exposure} > {MAX_EXPOSURE}:\n{out}"


def test_exposure_parser_sees_a_bad_unit(tmp_path: Path) -> None:
    """The check above is not vacuous: an unhardened unit scores far above the limit."""
    bare = tmp_path / "bare.service"
    bare.write_text("[Service]\nType=notify\nExecStart=/opt/bidder/.venv/bin/bidder run\n")
    exposure, _ = analyze_security(bare)
    assert exposure > MAX_EXPOSURE


def test_systemd_analyze_verify_finds_no_syntax_errors() -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    proc = subprocess.run(
        [tool, "verify", "--man=no", str(UNIT)], capture_output=True, text=True, timeout=60, check=False
    )
    # The only acceptable complaint on a build machine is the not-yet-installed ExecStart binary.
    problems = [
        line for line in (proc.stdout + proc.stderr).splitlines()
        if line.strip() and "/opt/bidder/.venv/bin/bidder" not in line
    ]
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------- Docker


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        line = buf + stripped
        buf = ""
        instr, _, args = line.partition(" ")
        out.append((instr.upper(), args.strip()))
    assert not buf, "Dockerfile ends inside a line continuation"
    return out


@pytest.fixture(scope="module")
def docker() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE)


def final_stage(instrs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (k, _) in enumerate(instrs) if k == "FROM"]
    assert starts, "no FROM"
    return instrs[starts[-1]:]


def test_dockerfile_known_instructions(docker) -> None:
    known = {
        "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
        "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
    }
    assert {k for k, _ in docker} <= known
    args = {a.split("=")[0].split()[0] for k, a in docker if k == "ARG"}
    froms = [a for k, a in docker if k == "FROM"]
    assert "python:3.11-slim" in [a for k, a in docker if k == "ARG"][0] or any(
        "python:3.11-slim" in f for f in froms
    )
    for f in froms:  # every ${VAR} in FROM is a declared ARG
        for var in re.findall(r"\$\{(\w+)\}", f):
            assert var in args, var


def test_dockerfile_runtime_stage(docker) -> None:
    stage = final_stage(docker)
    kinds = [k for k, _ in stage]
    users = [a for k, a in stage if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must run as a non-root user"
    assert users[-1].split(":")[0] == "bidder"
    # USER comes after the RUN steps that need root, and before the entrypoint.
    assert max(i for i, k in enumerate(kinds) if k == "RUN") < kinds.index("USER")

    assert [a for k, a in stage if k == "WORKDIR"][-1] == "/data"
    volumes = [a for k, a in stage if k == "VOLUME"]
    assert volumes and "/data" in (json.loads(volumes[-1]) if volumes[-1].startswith("[") else volumes[-1].split())
    assert "8080" in [a for k, a in stage if k == "EXPOSE"][-1].split()

    env = " ".join(a for k, a in stage if k == "ENV")
    assert "BIDDER_CONFIG=/data/bidder.yaml" in env
    assert "BIDDER_DATABASE_URL=sqlite+aiosqlite:////data/bidder.db" in env

    health = [a for k, a in stage if k == "HEALTHCHECK"]
    assert health, "HEALTHCHECK missing"
    opts, _, cmd = health[-1].partition("CMD")
    assert json.loads(cmd.strip()) == ["bidder", "check"]
    assert "--interval=" in opts and "--timeout=" in opts

    assert json.loads([a for k, a in stage if k == "ENTRYPOINT"][-1]) == ["bidder"]
    assert json.loads([a for k, a in stage if k == "CMD"][-1]) == ["run"]


def test_dockerfile_installs_the_package(docker) -> None:
    runs = " ".join(a for k, a in docker if k == "RUN")
    assert re.search(r"pip install (\S+ )*\.(\s|$)", runs), "the image installs the package with pip install ."


def dockerignored(rel: str, patterns: list[str]) -> bool:
    ignored = False
    for p in patterns:
        neg = p.startswith("!")
        pat = p[1:] if neg else p
        pat = pat.rstrip("/")
        if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel.split("/")[0], pat) or (
            pat.startswith("**/") and fnmatch.fnmatch(rel.split("/")[-1], pat[3:])
        ):
            ignored = not neg
    return ignored


def test_dockerfile_copy_sources_exist_and_are_not_dockerignored(docker) -> None:
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for kind, args in docker:
        if kind not in ("COPY", "ADD"):
            continue
        parts = shlex.split(args)
        if any(p.startswith("--from") for p in parts):
            continue
        sources = [p for p in parts if not p.startswith("--")][:-1]
        for src in sources:
            assert not dockerignored(src, patterns), f"{src} is copied but excluded by .dockerignore"
            if src == "README.md":  # pyproject's readme: written with the top-level README
                continue
            assert (ROOT / src).exists(), f"COPY source {src} does not exist"
    for secret_like in (".env", ".git", ".venv", "secrets", "bidder.db"):
        assert dockerignored(secret_like, patterns), secret_like


# --------------------------------------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose() -> dict:
    return YAML(typ="safe").load(COMPOSE.read_text())


def test_compose_has_postgres_with_healthcheck(compose) -> None:
    pg = compose["services"]["postgres"]
    assert str(pg["image"]).startswith("postgres:16")
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])


def test_compose_bidder_service(compose) -> None:
    svc = compose["services"]["bidder"]
    env = svc["environment"]
    assert env["BIDDER_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in env["BIDDER_DATABASE_URL"]
    assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert any(str(v).split(":")[1] == "/data" for v in svc["volumes"] if ":" in str(v))
    top_secrets = compose["secrets"]
    for name in svc["secrets"]:
        assert name in top_secrets
    assert {"wb_read_token", "wb_write_token"} <= set(svc["secrets"])
    assert not any("TOKEN" in k and v for k, v in env.items() if not k.startswith("#"))


def test_compose_example_config_reads_docker_secrets() -> None:
    text = COMPOSE.read_text()
    assert "file:/run/secrets/wb_read_token" in text
    assert "file:/run/secrets/wb_write_token" in text
