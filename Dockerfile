# syntax=docker/dockerfile:1
# The reference trading process with the ticktrace preload:
#   node --require ./dist/tracing.js dist/main.js
# Stage 1 compiles TypeScript with the dev dependencies; stage 2 keeps production dependencies
# and the compiled JavaScript only, and runs as the unprivileged `node` user.
ARG NODE_IMAGE=node:20.19.5-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 builds a native module when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json config.yaml ./
COPY --chown=node:node deploy/app/config.yaml ./deploy/app/config.yaml
RUN mkdir -p data logs && chown node:node data logs
USER node
EXPOSE 8080
CMD ["node", "--require", "./dist/tracing.js", "dist/main.js", "--config", "deploy/app/config.yaml"]
