/**
 * compose.yaml without Docker: the sample source service's command and health check are run as real
 * processes, with the listen port swapped for a free one, so a flag the source CLI does not know (or
 * a wrong health path) fails here rather than at `docker compose up`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { REPO, freePort } from './imageApp.js';
import { spawnChild, stop, waitFor } from './daemon.js';

const COMPOSE = readFileSync(path.join(REPO, 'compose.yaml'), 'utf8');

/** The service's block of compose.yaml (from `  name:` to the next service or top-level key). */
function serviceBlock(name: string): string {
  const m = new RegExp(`^  ${name}:\\n((?:    .*\\n|\\s*\\n)+)`, 'm').exec(COMPOSE);
  if (!m) throw new Error(`compose.yaml has no service '${name}'`);
  return m[1];
}

/** A flow-sequence value (`key: [...]`, possibly over several lines) of a block, as JSON. */
function flowList(block: string, key: string): string[] {
  const m = new RegExp(`^\\s*${key}: (\\[[\\s\\S]*?\\])\\s*$`, 'm').exec(block);
  if (!m) throw new Error(`no '${key}: [...]' in the block`);
  return JSON.parse(m[1]) as string[];
}

describe('the compose file', function () {
  this.timeout(30_000);

  it('points the daemon at the source service and keeps its data and logs on named volumes', function () {
    const scheduler = serviceBlock('scheduler');
    expect(scheduler).to.match(/DRIVETRAIN_SOURCE_URL: http:\/\/source:8000/);
    expect(scheduler).to.match(/- drivetrain-data:\/var\/lib\/drivetrain/);
    expect(scheduler).to.match(/- drivetrain-logs:\/var\/log\/drivetrain/);
    expect(COMPOSE).to.match(/^volumes:\n  drivetrain-data:\n  drivetrain-logs:/m);
  });

  it('runs two scheduler replicas on the postgres service, metadata and warehouse, started once it is ready', function () {
    const scheduler = serviceBlock('scheduler');
    expect(scheduler).to.match(/replicas: 2/);
    expect(scheduler).to.match(/DRIVETRAIN_METADATA_URL: postgres:\/\/postgres@postgres:5432\/drivetrain/);
    expect(scheduler).to.match(/DRIVETRAIN_WAREHOUSE_URL: postgres:\/\/postgres@postgres:5432\/drivetrain/);
    expect(scheduler).to.match(/postgres:\n\s+condition: service_healthy/);
    expect(serviceBlock('postgres')).to.match(/image: postgres:15/);
  });

  it('runs the sample source with the command it gives, and its health check passes', async function () {
    const block = serviceBlock('source');
    const command = flowList(block, 'command');
    const test = flowList(block, 'test');
    expect(command.slice(0, 4)).to.deep.equal(['node', '--import', 'tsx', 'bin/drivetrain.ts']);
    expect(command[command.indexOf('--port') + 1]).to.equal('8000');
    expect(command[command.indexOf('--host') + 1]).to.equal('0.0.0.0');

    // Same command on a free loopback port (8000 may be taken on a CI machine).
    const port = await freePort();
    const args = command.slice(1).map((a, i, all) => (all[i - 1] === '--port' ? String(port) : all[i - 1] === '--host' ? '127.0.0.1' : a));
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    const source = spawnChild(process.execPath, args, { cwd: REPO, env });
    let failure: unknown;
    try {
      await waitFor(source, `http://127.0.0.1:${port}/healthz`, (r) => r.status === 200, 20_000);
      const cars = (await (await fetch(`http://127.0.0.1:${port}/cars/`)).json()) as unknown[];
      expect(cars).to.have.length(Number(command[command.indexOf('--cars') + 1]));
      const [cmd, ...rest] = test.slice(1);
      const check = spawnChild(cmd === 'node' ? process.execPath : cmd, rest.map((a) => a.replace('127.0.0.1:8000', `127.0.0.1:${port}`)), { cwd: REPO, env });
      expect(await check.exited, check.output()).to.equal(0);
    } catch (err) {
      failure = err;
    }
    const { code } = await stop(source, 'SIGTERM', 10_000);
    if (failure) throw failure;
    expect(code, source.output()).to.equal(0);
  });
});
