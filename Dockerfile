# syntax=docker/dockerfile:1
# quantgate gateway image: build the wheel and its dependencies in one stage, run as non-root in a slim one.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY flags ./flags
COPY monitors ./monitors
COPY shadow ./shadow
COPY simulator ./simulator
COPY evals ./evals
COPY wire ./wire
RUN python -m venv /opt/quantgate \
    && /opt/quantgate/bin/pip install --no-compile . \
    && find /opt/quantgate -name '__pycache__' -type d -prune -exec rm -rf {} +

FROM python:3.11-slim
LABEL org.opencontainers.image.title="quantgate" \
      org.opencontainers.image.description="Gateway for rolling a quantized LLM out next to its full-precision twin"
ENV PATH=/opt/quantgate/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    QUANTGATE_HOST=0.0.0.0 \
    QUANTGATE_PORT=8080 \
    QUANTGATE_WORKERS=2 \
    QUANTGATE_FLAG_STORE_URL=sqlite:////var/lib/quantgate/quantgate.db
RUN groupadd --system --gid 10001 quantgate \
    && useradd --system --uid 10001 --gid quantgate --home-dir /var/lib/quantgate --create-home quantgate
COPY --from=build /opt/quantgate /opt/quantgate
USER 10001:10001
WORKDIR /var/lib/quantgate
EXPOSE 8080
# slim has no curl: the stdlib does the probe.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os,urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('QUANTGATE_PORT','8080')}/healthz\", timeout=2)"]
# uvicorn (uvloop, httptools) drains in-flight requests on SIGTERM within timeout_graceful_shutdown.
STOPSIGNAL SIGTERM
ENTRYPOINT ["quantgate"]
CMD ["serve"]
