# The demo services of docker-compose.yml: agent_cache with its OTLP, Redis and demo extras, running
# `python -m agent_cache.demo`. Exports to whatever the OTEL_* variables point at.
FROM python:3.12.8-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY agent_cache ./agent_cache
RUN pip install '.[otlp,redis,demo]' \
    && useradd --create-home --uid 10001 agent

USER agent
CMD ["python", "-m", "agent_cache.demo"]
