/**
 * The DAG structure the API shows is the one the daemon loaded last: it is stored in the metadata when
 * the daemon starts and again when it reloads a changed DAG folder, import errors included.
 */
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnChild, stop, type Child } from '../ops/daemon.js';
import { testEnv, useTmpDir } from '../helpers/tmp.js';
import { REPO, TOKEN } from './consoleSetup.js';

const dagFile = (id: string, tasks: string): string =>
  `import { defineDag } from ${JSON.stringify(pathToFileURL(path.join(REPO, 'scheduler', 'dag.ts')).href)};\n` +
  `export default defineDag({ id: '${id}', schedule: null, startDate: '2024-01-01', tasks: { ${tasks} } });\n`;

describe('the DAG bag behind the API', function () {
  this.timeout(60_000);
  let daemon: Child | undefined;
  const tmp = useTmpDir('drivetrain-dagbag-', { beforeRemove: async () => void (daemon && (await stop(daemon, 'SIGTERM', 15_000))) });

  it("follows the daemon's reloads of the DAG folder, import errors included", async () => {
    const dags = tmp.path('dags');
    mkdirSync(dags);
    writeFileSync(path.join(dags, 'first.ts'), dagFile('first', 'a: { run: () => undefined }'));
    daemon = spawnChild(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', 'start'], {
      cwd: REPO,
      env: testEnv(tmp.dir, { DRIVETRAIN_DAGS_DIR: dags, DRIVETRAIN_API_TOKEN: TOKEN, DRIVETRAIN_HTTP_PORT: '0' }),
    });
    const port = await new Promise<number>((resolve, reject) => {
      const t = setInterval(() => {
        const m = /"httpPort":(\d+)/.exec(daemon!.output());
        if (m) {
          clearInterval(t);
          resolve(Number(m[1]));
        }
      }, 50);
      void daemon!.exited.then((c) => reject(new Error(`daemon exited (${c}):\n${daemon!.output()}`)));
    });
    const dagsNow = async () =>
      (await (await fetch(`http://127.0.0.1:${port}/api/v1/dags`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
        dags: { dag_id: string; tasks: { task_id: string }[] }[];
        import_errors: { file: string }[];
      };
    expect((await dagsNow()).dags.map((d) => d.dag_id)).to.deep.equal(['first']);

    writeFileSync(path.join(dags, 'first.ts'), dagFile('first', "a: { run: () => undefined }, b: { upstream: ['a'], run: () => undefined }"));
    writeFileSync(path.join(dags, 'second.ts'), 'throw new Error("second is broken");\n');
    // The daemon logs the reload's outcome; the API must show it once stored.
    let seen = await dagsNow();
    for (let i = 0; i < 100 && seen.import_errors.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      seen = await dagsNow();
    }
    expect(seen.dags.map((d) => [d.dag_id, d.tasks.map((t) => t.task_id)])).to.deep.equal([['first', ['a', 'b']]]);
    expect(seen.import_errors.map((e) => path.basename(e.file))).to.deep.equal(['second.ts']);
  });
});
