# hive-ha-proxy container image.
#   docker build -t hive-ha-proxy .
#   docker run --rm -p 127.0.0.1:10000:10000 hive-ha-proxy --hs2 '<jdbc-url>' --hs2-listen 0.0.0.0:10000
# Inside a container the fronts must listen on 0.0.0.0 (the defaults are loopback-only), and an
# admin API on 0.0.0.0 needs HIVE_HA_PROXY_ADMIN_TOKEN. docker-compose.yml shows a complete setup.
# test/unit/compose.test.ts checks this file statically (no Docker engine on CI).

# The base follows the newest LTS line the test suite passes on (package.json engines lists the
# supported lines; npm test runs the suite on each).
# ---- build: dev dependencies, tsc, esbuild ---------------------------------------------------
FROM node:24.22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY scripts/build-wasm.mjs scripts/bundle.mjs ./scripts/
# `npm ci` runs the `prepare` script (tsc, the wasm assembler and the bundle -> dist/); then drop
# the dev dependencies.
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime: production dependencies and dist/ only, not root -------------------------------
FROM node:24.22-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Files stay owned by root: the process (user node) can read but not change its own code.
COPY package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
USER node
EXPOSE 10000 9083 10090
# node itself probes the admin API (no curl in the image); /healthz needs no token.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:10090/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/hive-ha-proxy"]
