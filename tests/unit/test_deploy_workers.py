"""The three-worker docker-compose example (deploy/workers/docker-compose.yml) parses and is coherent:
PostgreSQL with a health check, three workers on the same database and config, distinct worker ids and
loopback ports, tokens only from Docker secrets."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "workers" / "docker-compose.yml"


def test_three_workers_share_one_postgresql() -> None:
    compose = YAML(typ="safe").load(COMPOSE.read_text())
    services = compose["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    workers = {k: v for k, v in services.items() if k.startswith("worker-")}
    assert len(workers) == 3
    urls = {w["environment"]["BIDDER_DATABASE_URL"] for w in workers.values()}
    assert len(urls) == 1 and next(iter(urls)).startswith("postgresql+asyncpg://")
    assert len({w["environment"]["BIDDER_WORKER_ID"] for w in workers.values()}) == 3
    ports = [p for w in workers.values() for p in w["ports"]]
    assert len(set(ports)) == 3 and all(p.startswith("127.0.0.1:") for p in ports)
    for w in workers.values():
        assert w["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert set(w["secrets"]) == {"wb_read_token", "wb_write_token"}
        assert not any("TOKEN" in k and v for k, v in w["environment"].items())
        assert float(w["environment"]["BIDDER_LEASE_TTL"]) >= 1
