# rtk-sessions as a container: `docker build -t rtk-sessions .`
# Stateless: the database is RTK_DATABASE_URL (PostgreSQL when running replicas; a SQLite
# file works for one container with a volume at /data).
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN python -m venv /opt/rtk \
 && /opt/rtk/bin/pip install --no-cache-dir --disable-pip-version-check -c constraints.txt .

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /data --create-home rtk
COPY --from=build /opt/rtk /opt/rtk
ENV PATH=/opt/rtk/bin:$PATH \
    RTK_HOST=0.0.0.0 \
    RTK_PORT=8000 \
    RTK_DATABASE_URL=sqlite:////data/rtk.db \
    PYTHONUNBUFFERED=1
USER rtk
WORKDIR /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
# `serve` migrates first (one migrator at a time), then serves with RTK_WORKERS processes.
CMD ["rtk-sessions", "serve"]
