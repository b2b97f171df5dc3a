# syntax=docker/dockerfile:1
# The gateway as an image: `docker build -t ai-gateway .`, or `docker compose up` (compose.yaml) for the cluster
# layout of `npm run cluster`. Debian-based (not Alpine): usearch ships prebuilt binaries for glibc only.
ARG NODE_IMAGE=node:20-bookworm-slim

# Every dependency (the build and the console's bundle use dev ones) and the build: dist/<hash>/ and dist/current.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY scripts ./scripts
COPY src ./src
COPY migrations ./migrations
COPY console ./console
RUN npm run build

# Production dependencies only.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    DATA_DIR=/app/.data
WORKDIR /app
# the code stays root's (read-only to the gateway); it writes only its data folder (usage spool, embedded
# database when DATABASE_URL is unset) and the lease scripts/start.mjs takes on its build folder
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY scripts/start.mjs scripts/dist-pointer.mjs ./scripts/
RUN mkdir -p .data "dist/$(cat dist/current)/.leases" \
 && chown node:node .data "dist/$(cat dist/current)/.leases"
USER node
VOLUME ["/app/.data"]
EXPOSE 4000
# readiness, as HAProxy checks it; Node's own fetch, no curl in the image
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 4000}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains (/readyz 503, in-flight calls finish, usage flushed) within SHUTDOWN_GRACE_MS: give `docker stop`
# more than that (compose.yaml's stop_grace_period)
STOPSIGNAL SIGTERM
# node itself, not npm: the signal reaches the gateway, and npm start would rebuild
CMD ["node", "--max-semi-space-size=64", "--no-allocation-site-pretenuring", "scripts/start.mjs"]
