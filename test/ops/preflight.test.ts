/**
 * Start-up faults an operator fixes in the settings, seen through the real bin in a child process:
 * exit 2 and one line naming the variable, instead of exit 1 with SQLite's or Node's raw error.
 */
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import { preflight } from '../../scheduler/preflight.js';
import { ConfigError } from '../../scheduler/errors/ConfigError.js';
import { runBin, type ChildResult } from '../core/runBin.js';
import { testEnv, testSettings, useTmpDir } from '../helpers/tmp.js';

/** Root passes every permission check, so a folder's mode cannot make it read-only for root. */
const isRoot = process.getuid?.() === 0;

/** Exit 2 and one line of stderr that names `setting`, without a stack trace. */
function expectConfigExit(result: ChildResult, setting: string): void {
  const lines = result.stderr.trim().split('\n');
  expect(result.code, result.stderr).to.equal(2);
  expect(lines, result.stderr).to.have.length(1);
  expect(lines[0]).to.include(setting);
}

/** A regular file: nothing, not even root, can create a folder below it. */
function underAFile(dir: string): string {
  const file = path.join(dir, 'a-file');
  writeFileSync(file, '');
  return path.join(file, 'home');
}

describe('start-up faults', function () {
  const tmp = useTmpDir('drivetrain-startup-');

  for (const command of [['dags', 'list'], ['start']]) {
    it(`exits 2 naming DRIVETRAIN_HOME when the home cannot be created (${command.join(' ')})`, async function () {
      const home = underAFile(tmp.dir);
      const result = await runBin(command, testEnv(tmp.dir, { DRIVETRAIN_HOME: home, DRIVETRAIN_HTTP_PORT: '0' }));
      expectConfigExit(result, 'DRIVETRAIN_HOME');
      expect(result.stderr).to.include(home).and.include('ENOTDIR');
    });
  }

  it('exits 2 naming DRIVETRAIN_LOG_DIR when the log folder cannot be created', async function () {
    const logs = underAFile(tmp.dir);
    const result = await runBin(['dags', 'list'], testEnv(tmp.dir, { DRIVETRAIN_LOG_DIR: logs }));
    expectConfigExit(result, 'DRIVETRAIN_LOG_DIR');
  });

  it('exits 2 naming DRIVETRAIN_HOME when the home is read-only', async function () {
    if (isRoot) this.skip(); // running as root: chmod 0500 does not stop root's writes; the file case above covers it
    const home = path.join(tmp.dir, 'readonly');
    mkdirSync(home);
    chmodSync(home, 0o500);
    try {
      const result = await runBin(['dags', 'list'], testEnv(tmp.dir, { DRIVETRAIN_HOME: home }));
      expectConfigExit(result, 'DRIVETRAIN_HOME');
      expect(result.stderr).to.include('not writable');
    } finally {
      chmodSync(home, 0o700);
    }
  });

  it('exits 2 naming DRIVETRAIN_HTTP_PORT when another server holds the port', async function () {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const dags = path.join(tmp.dir, 'dags');
      mkdirSync(dags);
      const result = await runBin(['start'], testEnv(tmp.dir, { DRIVETRAIN_HTTP_PORT: String(port), DRIVETRAIN_DAGS_DIR: dags }));
      expect(result.code, result.stdout + result.stderr).to.equal(2);
      expect(result.stderr.trim()).to.equal(`drivetrain: DRIVETRAIN_HTTP_PORT: port ${port} on 127.0.0.1 is already in use`);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('creates a missing home and log folder owner-only and accepts them', function () {
    const settings = testSettings(tmp.dir, { DRIVETRAIN_HOME: path.join(tmp.dir, 'new', 'home'), DRIVETRAIN_LOG_DIR: path.join(tmp.dir, 'new', 'logs') });
    preflight(settings);
    expect(statSync(settings.home).mode & 0o777).to.equal(0o700);
    expect(statSync(settings.logDir).mode & 0o777).to.equal(0o700);
    expect(() => preflight(settings)).to.not.throw();
  });

  it('names the variable, the path and the code in the ConfigError', function () {
    const home = underAFile(tmp.dir);
    let caught: unknown;
    try {
      preflight(testSettings(tmp.dir, { DRIVETRAIN_HOME: home }));
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(ConfigError);
    expect((caught as ConfigError).setting).to.equal('DRIVETRAIN_HOME');
    expect((caught as ConfigError).message).to.equal(`DRIVETRAIN_HOME: '${home}' does not exist and cannot be created (ENOTDIR)`);
  });
});
