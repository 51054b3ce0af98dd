# zego-transcode-lifecycle: one image, two processes.
#
#   docker build -t zego-transcode-lifecycle .
#   docker run ... zego-transcode-lifecycle                                  # HTTP server (default CMD)
#   docker run ... zego-transcode-lifecycle node dist/src/main/worker.js     # Temporal worker
#
# The workflow code is bundled at image build time (dist/workflow-bundle.js, and
# dist/workflow-bundle.tracing.js for a worker with tracing on): the worker loads one of them and
# never runs webpack at start. Runtime has production dependencies only (no tsx, no
# TypeScript). See docker-compose.yml for the whole stack.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, compile TypeScript, bundle the workflows -------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY tools ./tools
COPY scripts ./scripts
RUN npm run build

# ---- runtime: production dependencies and dist/ only, as the unprivileged `node` user ----------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# Two glibc malloc arenas, not up to eight per core: each of the worker's threads (V8's, libuv's, the
# Temporal core's) otherwise keeps the memory it freed in an arena of its own. bench/RESULTS.md §5
# measures the worker with and without it in one run; the benchmarks read the value from here.
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json ./
# @temporalio/core-bridge ships its native library for every platform (~30 MB each): keep this one.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force \
  && releases=node_modules/@temporalio/core-bridge/releases \
  && keep="$(node -p '({ x64: "x86_64", arm64: "aarch64" })[process.arch]')-unknown-linux-gnu" \
  && if [ -d "$releases/$keep" ]; then find "$releases" -mindepth 1 -maxdepth 1 ! -name "$keep" -exec rm -rf {} +; fi
COPY --from=build /app/dist ./dist
# DATA_DIR (embedded PGlite when DATABASE_URL is unset) must be writable by `node`; mount a volume
# there to keep it across containers.
RUN mkdir -p /app/.data && chown node:node /app/.data
ENV PORT=3000 \
    HOST=0.0.0.0 \
    DATA_DIR=/app/.data
USER node
EXPOSE 3000

# The server's liveness: GET /healthz with Node's fetch (no curl in the slim image). The worker has
# no HTTP port: a container whose main process is the worker reports healthy while it runs
# (docker-compose.yml gives the worker a check of its own: it polls its task queue).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const fs = require('fs'); if (fs.readFileSync('/proc/1/cmdline', 'utf8').includes('worker')) process.exit(0); const h = process.env.HOST; const host = !h || h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h; fetch('http://' + (host.includes(':') ? '[' + host + ']' : host) + ':' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));"]

# Override for the worker: `node dist/src/main/worker.js` (npm is not needed to start either).
CMD ["node", "dist/src/main/server.js"]
