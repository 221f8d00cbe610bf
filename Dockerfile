# Racewire: a slim, non-root image. The install step is the README's own (scripts/bootstrap).
FROM python:3.11-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml constraints.txt alembic.ini ./
COPY scripts/ scripts/
COPY schema/ schema/
COPY resolvers/ resolvers/
COPY pubsub/ pubsub/
COPY events/ events/
COPY storage/ storage/
COPY server/ server/
COPY demo/ demo/
COPY graphql/ graphql/
RUN RACEWIRE_VENV=/opt/venv scripts/bootstrap --prod

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 racewire
COPY --from=build /opt/venv /opt/venv
WORKDIR /home/racewire
USER racewire
ENV PATH=/opt/venv/bin:$PATH \
    RACEWIRE_HOST=0.0.0.0 \
    RACEWIRE_PORT=8000 \
    RACEWIRE_DATABASE_URL=sqlite+aiosqlite:////home/racewire/racewire.db
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status != 200)"
CMD ["racewire", "serve"]
