# One image for every subcommand: keywarden controller | webhook | validator | reveal | list | ...
# Node 24 runs the TypeScript sources directly (type stripping), so there is no build output to copy:
# the build stage only installs production dependencies.
FROM node:24.21.0-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24.21.0-bookworm-slim
ENV NODE_ENV=production \
    KEYWARDEN_LOG_LEVEL=info
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY crds ./crds
# The node image's unprivileged user (uid 1000); the chart also sets runAsNonRoot.
USER 1000:1000
# The Node flags are src/runtime/node-flags.ts (a test keeps them equal): a fixed 16 MiB young generation.
ENTRYPOINT ["node", "--min-semi-space-size=16", "--max-semi-space-size=16", "/app/src/cli/main.ts"]
CMD ["--help"]
