# Tunesmith: python -m bot on a slim image, as a non-root user, with the SQLite file on a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TUNESMITH_DATABASE_PATH=/data/tunesmith.sqlite3 \
    TUNESMITH_WEB_HOST=0.0.0.0 \
    TUNESMITH_PLAYGROUND_HOST=0.0.0.0

RUN useradd --create-home --uid 10001 tunesmith && mkdir /data && chown tunesmith /data
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install .

USER tunesmith
VOLUME ["/data"]
# 8080: webhooks, /healthz, /metrics; 8000: the playground (only without a token)
EXPOSE 8080 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"TUNESMITH_WEB_PORT\", \"8080\")}/healthz')"
CMD ["python", "-m", "bot"]
