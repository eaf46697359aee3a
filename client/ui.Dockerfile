# WaddlePerf UI image (waddleperf ui: py4web). Build from the repository root:
#   docker build -f client/ui.Dockerfile -t waddleperf-ui .
# The base is pinned to an exact tag; pin it harder with a digest, e.g.
#   --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest>
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# Builder: the UI in a venv: the locked dependencies (uv.lock, hashes checked) and the project's wheel.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 UV_PYTHON_DOWNLOADS=never UV_NO_CACHE=1
RUN pip install uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
COPY common ./common
COPY server ./server
COPY client ./client
RUN uv build --wheel --out-dir /dist \
 && uv export --frozen --no-dev --no-emit-project --extra ui -o /dist/requirements.txt \
 && uv venv --python /usr/local/bin/python3 /opt/waddleperf \
 && uv pip install --python /opt/waddleperf/bin/python --require-hashes -r /dist/requirements.txt \
 && uv pip install --python /opt/waddleperf/bin/python --no-deps /dist/waddleperf-*.whl

# Final: the venv and a non-root user; the UI's data (session secret, SQLite) under /data.
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 waddleperf \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin waddleperf \
 && install -d -o 10001 -g 10001 -m 0700 /data
COPY --from=builder /opt/waddleperf /opt/waddleperf
ENV PATH=/opt/waddleperf/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000/tcp
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/', timeout=4)"]
# `docker run … waddleperf-ui create-admin --email E` runs the admin command instead.
ENTRYPOINT ["waddleperf", "ui"]
CMD ["--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
