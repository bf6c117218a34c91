# syntax=docker/dockerfile:1
# bidder: the daemon in a slim, non-root image. Config and SQLite live in the /data volume.
#
#   docker build -t bidder .
#   docker run -d --name bidder -v bidder-data:/data -p 127.0.0.1:8080:8080 \
#       -e WB_READ_TOKEN=... bidder            # /data/bidder.yaml must exist in the volume
#
# See docs/DEPLOY.md and docker-compose.yml (PostgreSQL, Docker secrets).

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a self-contained virtualenv in /opt/bidder ---------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/bidder
COPY pyproject.toml README.md alembic.ini ./
COPY bidder ./bidder
COPY strategies ./strategies
COPY migrations ./migrations
RUN /opt/bidder/bin/pip install . \
    && /opt/bidder/bin/bidder --help >/dev/null
# Until alembic.ini and migrations/ ship inside the package: bidder/store/migrate.py looks for them two
# levels above bidder/store/, which for an installed package is site-packages.
RUN site=$(/opt/bidder/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && cp -r alembic.ini migrations "$site"/ \
    && /opt/bidder/bin/python -c 'from bidder.store.migrate import ALEMBIC_INI, MIGRATIONS; \
assert ALEMBIC_INI.is_file() and (MIGRATIONS / "env.py").is_file(), (ALEMBIC_INI, MIGRATIONS)'

# --- runtime -------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="bidder" \
      org.opencontainers.image.description="Self-hosted bid-management daemon for Wildberries advertising" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 bidder \
    && useradd --system --uid 10001 --gid bidder --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin bidder \
    && mkdir -p /data \
    && chown bidder:bidder /data \
    && chmod 0700 /data

COPY --from=build /opt/bidder /opt/bidder

ENV PATH=/opt/bidder/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BIDDER_CONFIG=/data/bidder.yaml \
    BIDDER_DATABASE_URL=sqlite+aiosqlite:////data/bidder.db \
    BIDDER_HTTP_PORT=8080 \
    BIDDER_HTTP_HOST=0.0.0.0

WORKDIR /data
VOLUME ["/data"]
USER bidder:bidder
EXPOSE 8080

# `bidder check` GETs http://127.0.0.1:$BIDDER_HTTP_PORT/healthz and exits 0 (healthy) or 1.
# The daemon itself reports healthy during its start-up grace period (5 minutes by default).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["bidder", "check"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["bidder"]
CMD ["run"]
