/**
 * The Docker image without Docker: no engine runs in CI, so this takes the image's final stage from
 * the Dockerfile (WORKDIR, ENV, COPY, CMD, HEALTHCHECK), lays out the same files with production
 * dependencies only, and runs the exact CMD with the image's environment as a real child process.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { useTmpDir } from '../helpers/tmp.js';
import { readImageSpec, type ImageSpec } from './dockerfile.js';
import { REPO, entries, freePort, layOutImage, productionPackages } from './imageApp.js';
import { probe, spawnChild, stop, waitFor } from './daemon.js';

const DOCKERFILE = path.join(REPO, 'Dockerfile');
/** Docker's default stop timeout: SIGTERM, then SIGKILL after this. */
const DOCKER_STOP_TIMEOUT_MS = 10_000;

/** The environment of the container: the image's ENV, plus what Docker and the base image set. */
function containerEnv(spec: ImageSpec, overrides: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: overrides.HOME, ...spec.env, ...overrides };
}

describe('the Docker image', function () {
  const spec = readImageSpec(DOCKERFILE);

  it('starts node directly under tini, as the non-root node user', function () {
    expect(spec.entrypoint).to.deep.equal(['/usr/bin/tini', '--']);
    // npm in between would swallow SIGTERM, and the grace period would never start.
    expect(spec.cmd[0]).to.equal('node');
    expect(spec.cmd).to.include('start');
    expect(spec.user).to.equal('node');
  });

  it('keeps data and logs on volumes and listens on all interfaces, on the exposed port', function () {
    expect(spec.volumes).to.include.members([spec.env.DRIVETRAIN_HOME, spec.env.DRIVETRAIN_LOG_DIR]);
    expect(spec.env.DRIVETRAIN_HTTP_HOST).to.equal('0.0.0.0');
    expect(spec.exposed).to.include(spec.env.DRIVETRAIN_HTTP_PORT ?? '8974');
    expect(spec.env.DRIVETRAIN_ENV).to.equal('production');
    expect(spec.healthcheck?.join(' ')).to.include('/healthz');
  });

  it('carries production dependencies only, tsx among them since DAG files load as TypeScript', function () {
    const pkgs = productionPackages(REPO).map((p) => p.slice('node_modules/'.length));
    expect(pkgs).to.include.members(['tsx', 'sqlite3', 'sequelize', 'prom-client']);
    expect(pkgs).to.not.include.members(['mocha']);
    expect(pkgs).to.not.include('chai');
    expect(pkgs).to.not.include('typescript');
  });

  describe('running its CMD with its environment', function () {
    this.timeout(90_000);
    const tmp = useTmpDir('drivetrain-image-', { scope: 'suite' });
    let workdir: string;

    before(function () {
      workdir = layOutImage(spec, path.join(tmp.dir, 'rootfs'));
    });

    it('has the copied app and no dev dependency in the image layout', function () {
      const entry = spec.cmd.find((a) => a.endsWith('.ts'));
      expect(entry, 'a .ts entry point in CMD').to.be.a('string');
      expect(existsSync(path.join(workdir, entry as string))).to.equal(true);
      const modules = entries(path.join(workdir, 'node_modules'));
      expect(modules).to.include('tsx');
      expect(modules).to.not.include('mocha');
      expect(modules).to.not.include('typescript');
      expect(existsSync(path.join(workdir, 'test'))).to.equal(false);
    });

    it('starts the daemon, answers /healthz and the HEALTHCHECK, and exits 0 on SIGTERM within Docker\'s stop timeout', async function () {
      const port = await freePort();
      // Docker's volumes are not writable here; the same variables point into the temp dir instead.
      // The source URL points at a port with nothing behind it: ingest attempts fail and retry, as in
      // a container started before its source.
      const env = containerEnv(spec, {
        HOME: path.join(tmp.dir, 'home-node'),
        DRIVETRAIN_HOME: path.join(tmp.dir, 'volume-data'),
        DRIVETRAIN_LOG_DIR: path.join(tmp.dir, 'volume-logs'),
        DRIVETRAIN_HTTP_PORT: String(port),
        DRIVETRAIN_SOURCE_URL: `http://127.0.0.1:${await freePort()}`,
      });
      const [cmd, ...args] = spec.cmd;
      // `node` on the image's PATH is this same Node.js 20.
      const daemon = spawnChild(cmd === 'node' ? process.execPath : cmd, args, { cwd: workdir, env });
      let failure: unknown;
      try {
        const healthy = await waitFor(daemon, `http://127.0.0.1:${port}/healthz`, (r) => r.status === 200, 45_000);
        expect(JSON.parse(healthy.body)).to.deep.equal({ status: 'ok' });

        const metrics = await probe(`http://127.0.0.1:${port}/metrics`);
        expect(metrics?.status).to.equal(200);
        expect(metrics?.body).to.include('drivetrain_task_instances');

        // The image's own HEALTHCHECK command, run as Docker would run it inside the container.
        const [hcCmd, ...hcArgs] = spec.healthcheck ?? [];
        const hc = spawnChild(hcCmd === 'node' ? process.execPath : hcCmd, hcArgs, { cwd: workdir, env });
        expect(await hc.exited, hc.output()).to.equal(0);
      } catch (err) {
        failure = err;
      }
      // Stopped in every case; an earlier failure is reported first, not masked by this one.
      const { code, ms } = await stop(daemon, 'SIGTERM', DOCKER_STOP_TIMEOUT_MS);
      if (failure) throw failure;
      expect(code, daemon.output()).to.equal(0);
      expect(ms, 'SIGTERM to exit, ms').to.be.below(DOCKER_STOP_TIMEOUT_MS);
      // Every DAG file of the image imported with production dependencies only.
      const bagLine = daemon.output().split('\n').find((l) => l.includes('"DAG bag loaded"'));
      expect(bagLine, daemon.output()).to.be.a('string');
      const bag = JSON.parse(bagLine as string) as { dags: string[]; errors: number };
      expect(bag.errors, daemon.output()).to.equal(0);
      expect(bag.dags.length).to.be.greaterThan(0);
      // State went to the volumes, not into the image's WORKDIR.
      expect(existsSync(path.join(tmp.dir, 'volume-data', 'metadata.db'))).to.equal(true);
      expect(existsSync(path.join(tmp.dir, 'volume-logs', 'scheduler.log'))).to.equal(true);
      expect(existsSync(path.join(workdir, 'data'))).to.equal(false);
      const logs = readdirSync(path.join(tmp.dir, 'volume-logs'));
      expect(logs.some((f) => statSync(path.join(tmp.dir, 'volume-logs', f)).size > 0)).to.equal(true);
    });
  });
});
