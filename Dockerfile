# One image for the three services (and the init job); the command picks the service.
# Build stage: bundle each service with esbuild (infra/build.mjs); runtime stage: production
# dependencies plus the bundles, run with plain node.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm install --no-audit --no-fund && node infra/build.mjs && node packages/console/scripts/build.mjs

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/shared/package.json packages/shared/
COPY packages/testing/package.json packages/testing/
COPY services/gateway/package.json services/gateway/
COPY services/ledger/package.json services/ledger/
COPY services/ingest/package.json services/ingest/
COPY packages/sdk/package.json packages/sdk/
COPY packages/console/package.json packages/console/
RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json ./
COPY packages packages
COPY services services
COPY infra/kafka/broker.mjs infra/kafka/
COPY --from=build /app/services/gateway/dist services/gateway/dist
COPY --from=build /app/services/ledger/dist services/ledger/dist
COPY --from=build /app/services/ingest/dist services/ingest/dist
# The console bundle the gateway serves at /console/.
COPY --from=build /app/packages/console/dist packages/console/dist
USER node
# Overridden per service in docker-compose.yml.
CMD ["node", "--enable-source-maps", "services/gateway/dist/main.mjs"]
