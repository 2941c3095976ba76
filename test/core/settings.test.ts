import { expect } from 'chai';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { loadSettings } from '../../scheduler/settings.js';
import { COMPILED } from '../../scheduler/settings/compiled.js';
import { README_REGION, TOML_REGION, readRegion, replaceRegion, settingsTable, settingsTomlDefaults } from '../../scheduler/settings/docs.js';
import { MissingMarkersError } from '../../scheduler/settings/MissingMarkersError.js';
import { useTmpDir } from '../helpers/tmp.js';
import { configErrorOf } from '../helpers/settings.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function loadWith(env: Record<string, string>, warnings: string[] = []) {
  return loadSettings({ env, cwd: '/srv/app', warn: (m) => warnings.push(m) });
}


describe('settings', () => {
  const tmp = useTmpDir('drivetrain-settings-');

  it('gives the contract defaults with no environment', () => {
    const s = loadWith({});
    expect(s.env).to.equal('development');
    expect(s.home).to.equal('/srv/app/data');
    expect(s.metadataDb).to.equal('/srv/app/data/metadata.db');
    expect(s.warehouseDb).to.equal('/srv/app/data/warehouse.db');
    expect(s.lakeDir).to.equal('/srv/app/data/lake');
    expect(s.logDir).to.equal('/srv/app/logs');
    expect(s.dagsDir).to.equal('/srv/app/dags');
    expect(s.source).to.include({ url: 'http://127.0.0.1:8000', pageSize: 5000, timeoutMs: 30000, retries: 5 });
    expect(s.task).to.deep.equal({ retries: 3, retryDelayS: 30, timeoutS: 86400, rescheduleLimitS: 3600 });
    expect(s.http).to.deep.equal({ host: '127.0.0.1', port: 8974, apiToken: undefined, apiTokenFile: undefined });
    expect(s.fixedNow).to.equal(undefined);
  });

  it('lets environment variables override the file', () => {
    const s = loadWith({
      DRIVETRAIN_HOME: '/var/lib/dt',
      DRIVETRAIN_SOURCE_PAGE_SIZE: '0',
      DRIVETRAIN_SOURCE_URL: 'http://source:8000/',
      DRIVETRAIN_TASK_RETRY_DELAY_S: '0.5',
      DRIVETRAIN_HTTP_HOST: '0.0.0.0',
      DRIVETRAIN_NOW: '2024-02-01T00:00:00Z',
    });
    expect(s.metadataDb).to.equal('/var/lib/dt/metadata.db');
    expect(s.source.pageSize).to.equal(0);
    expect(s.source.url).to.equal('http://source:8000');
    expect(s.task.retryDelayS).to.equal(0.5);
    expect(s.http.host).to.equal('0.0.0.0');
    expect(s.fixedNow?.toISOString()).to.equal('2024-02-01T00:00:00.000Z');
  });

  it('layers the section of DRIVETRAIN_ENV over the defaults, keeping declared defaults for keys left out', () => {
    const dir = tmp.dir;
    const file = path.join(dir, 'settings.toml');
    writeFileSync(file, '[default]\nhome = "./d"\n[default.source]\nurl = "http://a:1"\npage_size = 10\n[staging]\n[staging.source]\npage_size = 77\n');
    const s = loadSettings({ env: { DRIVETRAIN_SETTINGS_FILE: file, DRIVETRAIN_ENV: 'staging' }, cwd: dir, warn: () => {} });
    expect(s.env).to.equal('staging');
    expect(s.source.pageSize).to.equal(77);
    expect(s.source.url).to.equal('http://a:1');
    expect(s.home).to.equal(path.join(dir, 'd'));
    expect(s.logDir).to.equal(path.join(dir, 'logs'));
    expect(s.scheduler.tick).to.equal('*/5 * * * * *');
  });

  it('names the variable of a malformed number', () => {
    const err = configErrorOf({ DRIVETRAIN_SOURCE_PAGE_SIZE: 'lots' });
    expect(err.setting).to.equal('DRIVETRAIN_SOURCE_PAGE_SIZE');
    expect(err.message).to.equal("DRIVETRAIN_SOURCE_PAGE_SIZE: 'lots' is not a number");
  });

  it('names the variable of an out-of-range or invalid value', () => {
    expect(configErrorOf({ DRIVETRAIN_HTTP_PORT: '70000' }).message).to.match(/^setting 'http\.port' \(DRIVETRAIN_HTTP_PORT\) = 70000: /);
    expect(configErrorOf({ DRIVETRAIN_SOURCE_URL: 'not a url' }).setting).to.equal('DRIVETRAIN_SOURCE_URL');
    expect(configErrorOf({ DRIVETRAIN_TASK_RETRIES: '1.5' }).message).to.equal("DRIVETRAIN_TASK_RETRIES: '1.5' is not an integer");
    expect(configErrorOf({ DRIVETRAIN_NOW: 'yesterday' }).message).to.equal("DRIVETRAIN_NOW = 'yesterday': not a date (YYYY-MM-DD or ISO 8601, UTC)");
    expect(configErrorOf({ DRIVETRAIN_NOW: '0' }).message).to.equal("DRIVETRAIN_NOW = '0': not a date (YYYY-MM-DD or ISO 8601, UTC)");
    expect(configErrorOf({ DRIVETRAIN_NOW: '2024-02-30' }).setting).to.equal('DRIVETRAIN_NOW');
    expect(configErrorOf({ DRIVETRAIN_LOG_LEVEL: 'loud' }).message).to.match(/^setting 'log_level' \(DRIVETRAIN_LOG_LEVEL\) = 'loud': /);
  });

  it("reads the warehouse's memory settings and names the variable of a bad one", () => {
    expect(loadWith({}).warehouse).to.deep.equal({ cacheMb: 8, mmapMb: 0, tempStore: 'file', heapMb: 128 });
    const s = loadWith({ DRIVETRAIN_WAREHOUSE_CACHE_MB: '256', DRIVETRAIN_WAREHOUSE_MMAP_MB: '4096', DRIVETRAIN_WAREHOUSE_TEMP_STORE: 'memory', DRIVETRAIN_WAREHOUSE_HEAP_MB: '0' });
    expect(s.warehouse).to.deep.equal({ cacheMb: 256, mmapMb: 4096, tempStore: 'memory', heapMb: 0 });
    expect(configErrorOf({ DRIVETRAIN_WAREHOUSE_HEAP_MB: '-1' }).setting).to.equal('DRIVETRAIN_WAREHOUSE_HEAP_MB');
    expect(configErrorOf({ DRIVETRAIN_WAREHOUSE_TEMP_STORE: 'disk' }).message).to.match(/^setting 'warehouse\.temp_store' \(DRIVETRAIN_WAREHOUSE_TEMP_STORE\) = 'disk': /);
    expect(configErrorOf({ DRIVETRAIN_WAREHOUSE_CACHE_MB: '0' }).setting).to.equal('DRIVETRAIN_WAREHOUSE_CACHE_MB');
  });

  it('reads the warehouse URL: a sqlite: file moves warehouseDb, a postgres URL keeps its schema, a bad one names the variable without its password', () => {
    expect(loadWith({ DRIVETRAIN_WAREHOUSE_URL: 'sqlite:./w/wh.db' }).warehouseDb).to.equal('/srv/app/w/wh.db');
    const pg = loadWith({ DRIVETRAIN_WAREHOUSE_URL: 'postgres://dt:pw@db:5432/dw?schema=marts' });
    expect(pg.warehouseUrl).to.equal('postgres://dt:pw@db:5432/dw?schema=marts');
    expect(pg.warehouseDb).to.equal('/srv/app/data/warehouse.db');
    for (const bad of ['mysql://dt:hunter22@db/dw', 'postgres://dt:hunter22@db/', 'postgres://dt:hunter22@db/dw?schema=Bad-Name', 'postgres://dt:hunter22@db/dw?sslmode=x']) {
      const err = configErrorOf({ DRIVETRAIN_WAREHOUSE_URL: bad });
      expect(err.setting, bad).to.equal('DRIVETRAIN_WAREHOUSE_URL');
      expect(err.message, bad).to.match(/^setting 'warehouse_url' \(DRIVETRAIN_WAREHOUSE_URL\) = /);
      expect(err.message, bad).not.to.include('hunter22');
    }
  });

  it('refuses a heartbeat that is not shorter than the lease', () => {
    const err = configErrorOf({ DRIVETRAIN_LEASE_S: '5', DRIVETRAIN_HEARTBEAT_S: '5' });
    expect(err.setting).to.equal('DRIVETRAIN_HEARTBEAT_S');
    expect(err.message).to.match(/heartbeat_s.* 5 must be below scheduler\.lease_s .* 5$/);
  });

  it('refuses an environment without a section', () => {
    expect(configErrorOf({ DRIVETRAIN_ENV: 'nowhere' }).message).to.match(/DRIVETRAIN_ENV 'nowhere' has no \[nowhere\] section/);
  });

  it('warns about an unknown DRIVETRAIN_ variable, naming it', () => {
    const warnings: string[] = [];
    loadWith({ DRIVETRAIN_SOURCE_ULR: 'http://x' }, warnings);
    expect(warnings).to.deep.equal(['unknown setting DRIVETRAIN_SOURCE_ULR is ignored (a typo?)']);
  });

  it('refuses an empty variable, naming it', () => {
    const err = configErrorOf({ DRIVETRAIN_LOG_LEVEL: ' ' });
    expect(err.setting).to.equal('DRIVETRAIN_LOG_LEVEL');
    expect(err.message).to.equal('DRIVETRAIN_LOG_LEVEL: is empty');
  });

  it('refuses an unknown key in the settings file, naming it', () => {
    const dir = tmp.dir;
    // The per-entity routes of earlier versions are derived from the entity now, not set.
    writeFileSync(path.join(dir, 'old.toml'), '[default]\n[default.source.routes.cars]\npaged = "/c"\n');
    const err = configErrorOf({ DRIVETRAIN_SETTINGS_FILE: 'old.toml' }, dir);
    expect(err.message).to.equal(`settings file '${path.join(dir, 'old.toml')}': unknown key 'source.routes'`);
    expect(err.setting).to.equal('source.routes');
  });

  it('quotes a bad value from the settings file and names its variable', () => {
    const dir = tmp.dir;
    writeFileSync(path.join(dir, 'bad.toml'), '[default]\n[default.load]\nbatch_rows = 0\n');
    const err = configErrorOf({ DRIVETRAIN_SETTINGS_FILE: 'bad.toml' }, dir);
    expect(err.setting).to.equal('DRIVETRAIN_LOAD_BATCH_ROWS');
    expect(err.message).to.match(/^setting 'load\.batch_rows' \(DRIVETRAIN_LOAD_BATCH_ROWS\) = 0: /);
  });

  it('lets only the variable fix the clock, not a settings file section', () => {
    const dir = tmp.dir;
    writeFileSync(path.join(dir, 'now.toml'), '[default]\nfixed_now = "2024-01-01T00:00:00Z"\n');
    expect(configErrorOf({ DRIVETRAIN_SETTINGS_FILE: 'now.toml' }, dir).setting).to.equal('DRIVETRAIN_NOW');
  });
});

describe('settings declarations', () => {
  const numeric = COMPILED.filter((c) => c.envKind !== 'string');

  it('bind every declared variable to its setting', () => {
    expect(numeric.length).to.be.above(10);
    for (const c of numeric) {
      const err = configErrorOf({ [c.declaration.env]: 'lots' });
      expect(err.message, c.key).to.equal(`${c.declaration.env}: 'lots' is not a number`);
    }
    const warnings: string[] = [];
    const unset: Record<string, string> = {
      DRIVETRAIN_NOW: '2024-01-01T00:00:00Z',
      DRIVETRAIN_ALERT_WEBHOOK_URL: 'https://hooks.example.test/T0/B0/token',
      DRIVETRAIN_WAREHOUSE_URL: 'sqlite:./data/warehouse.db',
    };
    const env = Object.fromEntries(COMPILED.map((c) => [c.declaration.env, String(c.declaration.default ?? unset[c.declaration.env])]));
    loadWith({ ...env, DRIVETRAIN_ENV: 'test', DRIVETRAIN_SETTINGS_FILE: path.join(REPO, 'settings.toml') }, warnings);
    expect(warnings).to.deep.equal([]);
  });

  it("give settings.toml's [default] section every file key with its declared default", () => {
    const generated = parseToml(settingsTomlDefaults()) as { default: Record<string, unknown> };
    for (const c of COMPILED) {
      const value = c.tomlPath.reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], generated.default);
      expect(value, c.key).to.equal(c.declaration.envOnly ? undefined : c.declaration.default);
    }
  });

  it("are what README.md's settings table says (else run `npm run docs:settings`)", () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const table = readRegion(readme, 'README.md', README_REGION);
    expect(table, "README.md's settings table differs from scheduler/settings/declarations.ts: run `npm run docs:settings`").to.equal(settingsTable());
    for (const c of COMPILED) expect(table).to.include(`| \`${c.declaration.env}\` |`);
  });

  it("are what settings.toml's [default] section says (else run `npm run docs:settings`)", () => {
    const toml = readFileSync(path.join(REPO, 'settings.toml'), 'utf8');
    const section = readRegion(toml, 'settings.toml', TOML_REGION);
    expect(section, "settings.toml's [default] section differs from scheduler/settings/declarations.ts: run `npm run docs:settings`").to.equal(
      settingsTomlDefaults(),
    );
  });

  it('refuse to generate into a file without the markers', () => {
    expect(() => replaceRegion('# no markers\n', 'x.md', README_REGION, 'table')).to.throw(MissingMarkersError, "x.md has no '<!-- settings:start -->'");
    expect(replaceRegion('a\n<!-- settings:start -->\nold\n<!-- settings:end -->\nb', 'x.md', README_REGION, 'new')).to.equal(
      'a\n<!-- settings:start -->\nnew\n<!-- settings:end -->\nb',
    );
  });

  it("name none of the company's entities", () => {
    const dir = path.join(REPO, 'scheduler', 'settings');
    const files = [path.join(REPO, 'scheduler', 'settings.ts'), path.join(REPO, 'settings.toml'), ...readdirSync(dir).map((f) => path.join(dir, f))];
    for (const file of files) expect(readFileSync(file, 'utf8'), file).not.to.match(/\b(cars|customers|subscriptions)\b/i);
  });
});
