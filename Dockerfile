# syntax=docker/dockerfile:1
# Drivetrain's scheduler daemon. Two stages: the build stage has the compilers sqlite3's native
# addon needs; the runtime stage carries only the production node_modules and the sources (DAG files
# and the app are loaded as TypeScript at run time through tsx, so there is no compile step).
#
#   docker build -t drivetrain .
#   docker run -d --name drivetrain -p 8974:8974 -e DRIVETRAIN_SOURCE_URL=http://source:8000 drivetrain
#
# test/ops/imageCmd.test.ts reads this file (WORKDIR, ENV, COPY, CMD, HEALTHCHECK of the last stage)
# and runs the exact CMD with the image's environment, since no Docker engine runs in CI.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Compile sqlite3 here rather than download a prebuilt binary: same result offline, and the
# addon matches this image's glibc.
ENV npm_config_build_from_source=sqlite3
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci \
 && npm prune --omit=dev

FROM ${NODE_IMAGE} AS runtime
# tini is PID 1: it forwards SIGTERM to node and reaps zombies; node itself ignores signals as PID 1.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/drivetrain /var/log/drivetrain \
 && chown node:node /var/lib/drivetrain /var/log/drivetrain
WORKDIR /app
# NODE_OPTIONS: the heap limit .npmrc gives npm runs (V8 sizes heap growth by it; docs/design/heap-limit.md).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-old-space-size=512 \
    DRIVETRAIN_ENV=production \
    DRIVETRAIN_HOME=/var/lib/drivetrain \
    DRIVETRAIN_LOG_DIR=/var/log/drivetrain \
    DRIVETRAIN_HTTP_HOST=0.0.0.0 \
    DRIVETRAIN_HTTP_PORT=8974
# Production dependencies only (tsx is one: DAG files are TypeScript loaded at run time).
COPY --from=build /app/node_modules ./node_modules
# Sources stay owned by root: the daemon writes only to its two volumes (and tsx's cache in /tmp).
COPY package.json package-lock.json tsconfig.json settings.toml ./
COPY bin ./bin
COPY scheduler ./scheduler
COPY operators ./operators
COPY source ./source
COPY sql ./sql
COPY dags ./dags
COPY demo ./demo
USER node
VOLUME ["/var/lib/drivetrain", "/var/log/drivetrain"]
EXPOSE 8974
# No curl in the slim image: node's own fetch probes /healthz (200 healthy, 503 with the reason); it
# gives up before Docker's 5 s probe timeout, so a daemon too stuck to answer counts as a clean failure.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.DRIVETRAIN_HTTP_PORT || 8974) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
# node directly, not npm: npm would swallow SIGTERM and the grace period would never start.
CMD ["node", "--import", "tsx", "bin/drivetrain.ts", "start"]
