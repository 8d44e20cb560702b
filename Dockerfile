# syntax=docker/dockerfile:1
# vmlock image: one image, every process kind (sim, poller, worker, notifier,
# serve, demo) chosen by the command. TypeScript runs through tsx (a runtime
# dependency), exactly as `npm run demo` does, so there is no build output to
# keep in step with the sources.
ARG NODE_VERSION=20

# 1. Production dependencies only.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 2. Type-check the sources with the dev dependencies; the image is not built
#    from code that does not type-check.
FROM node:${NODE_VERSION}-bookworm-slim AS check
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY schemas ./schemas
RUN npx tsc -p tsconfig.json --noEmit && touch /app/.typecheck-passed

# 3. Runtime: sources, config and schemas, no dev dependencies, non-root.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    VMLOCK_LOG_LEVEL=info
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY workers ./workers
COPY config ./config
COPY schemas ./schemas
# Makes the runtime stage depend on the check stage (BuildKit skips stages nothing uses).
COPY --from=check /app/.typecheck-passed /app/.typecheck-passed
# The files stay root-owned and read-only for the service user; `node` (uid 1000) ships with the base image.
USER node
# Ops HTTP ports: poller 9464, worker 9465, notifier 9466, simulator 9467, serve 9468; simulator SOAP 8989.
EXPOSE 8989 9464 9465 9466 9468
ENTRYPOINT ["node", "bin/vmlock.js"]
CMD ["--help"]
