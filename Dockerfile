# One image for the three services (and the init job); the command picks the service.
# Services run TypeScript through tsx, as in development: no separate build output to drift.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY packages/shared/package.json packages/shared/
COPY packages/testing/package.json packages/testing/
COPY services/gateway/package.json services/gateway/
COPY services/ledger/package.json services/ledger/
COPY services/ingest/package.json services/ingest/
COPY packages/sdk/package.json packages/sdk/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json ./
COPY packages packages
COPY services services
COPY infra/kafka/broker.mjs infra/kafka/
USER node
# Overridden per service in docker-compose.yml.
CMD ["node", "--import", "tsx", "services/gateway/src/main.ts"]
