/**
 * `npm run demo` end to end, as a newcomer runs it: a real child process generating, serving and
 * backfilling, then summarising the marts.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { queryFile } from '../helpers/sqliteFile.js';
import { inheritedEnv, useTmpDir } from '../helpers/tmp.js';
import { MARTS } from '../../demo/summary.js';
import { REPO } from './imageApp.js';
import { spawnChild } from './daemon.js';

async function count(file: string, table: string): Promise<number> {
  const [row] = await queryFile<{ n: number }>(file, `SELECT count(*) AS n FROM ${table}`);
  return row?.n ?? 0;
}

describe('npm run demo', function () {
  // The whole pipeline over a small generated dataset; the demo's promise is "well under two minutes".
  this.timeout(120_000);
  const tmp = useTmpDir('drivetrain-demo-', { scope: 'suite' });

  it('generates, serves and backfills a sample dataset, summarises every mart and exits 0', async function () {
    const home = path.join(tmp.dir, 'demo');
    // Exactly what `npm run demo` runs, with the home in the test's temp dir.
    const demo = spawnChild(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', 'demo', '--home', home], { cwd: REPO, env: inheritedEnv() });
    const code = await demo.exited;
    const out = demo.output();
    expect(code, out).to.equal(0);
    for (const mart of MARTS) expect(out, `summary of ${mart}`).to.match(new RegExp(`^\\s+${mart}: (?!MISSING)`, 'm'));
    expect(out).to.include(path.join(home, 'data'));
    expect(out).to.include(path.join(home, 'logs'));

    // The summary reflects real tables: every mart has rows after the demo.
    const warehouse = path.join(home, 'data', 'warehouse.db');
    for (const mart of MARTS) expect(await count(warehouse, mart), mart).to.be.greaterThan(0);
    expect(existsSync(path.join(home, 'logs', 'scheduler.log')) || readdirSync(path.join(home, 'logs')).length > 0).to.equal(true);
  });
});

describe('the demo command', function () {
  this.timeout(20_000);
  // A test never points a destructive command at a folder of the repository: a temporary one stands in.
  const tmp = useTmpDir('drivetrain-demo-home-');

  it('refuses a non-empty home it did not make, naming it, with exit 2, and leaves its files alone', async function () {
    const precious = path.join(tmp.dir, 'precious.txt');
    writeFileSync(precious, 'not the demo\'s\n');
    const demo = spawnChild(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', 'demo', '--home', tmp.dir], { cwd: REPO, env: inheritedEnv() });
    expect(await demo.exited).to.equal(2);
    expect(demo.output()).to.include(`drivetrain: --home '${tmp.dir}' is not empty and was not made by the demo`);
    expect(readFileSync(precious, 'utf8')).to.equal('not the demo\'s\n');
  });
});
