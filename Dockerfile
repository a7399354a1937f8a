# Axon homeserver image. Build from the repository root:
#   docker build -t axon .
# First run writes a config into the data volume (bind 0.0.0.0 inside the container):
#   docker run --rm -v axon-data:/data axon generate-config --server-name example.com \
#     --config-path /data/homeserver.yaml --data-dir /data --bind 0.0.0.0
#   docker run -d --name axon -p 8008:8008 -v axon-data:/data axon
# See docs/operations.md.

FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles from source when no prebuilt binary fits.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
RUN npm install -g pnpm@12.4.2
ENV CI=true TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 npm_config_nodedir=/usr/local
WORKDIR /src
COPY . .
RUN pnpm install --frozen-lockfile \
    && pnpm turbo run build --filter=@axon/server... --output-logs=errors-only \
    && pnpm install --frozen-lockfile --prod

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json /src/pnpm-workspace.yaml ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/packages/contract ./packages/contract
COPY --from=build /src/apps/server ./apps/server
RUN groupadd --system axon \
    && useradd --system --gid axon --home-dir /data --shell /usr/sbin/nologin axon \
    && mkdir -p /data \
    && chown axon:axon /data
USER axon
VOLUME ["/data"]
EXPOSE 8008
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD node -e "fetch('http://127.0.0.1:8008/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
ENTRYPOINT ["node", "/app/apps/server/bin/axon.js"]
CMD ["start", "--config", "/data/homeserver.yaml"]
