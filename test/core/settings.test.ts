import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../scheduler/errors/ConfigError.js';
import { loadSettings } from '../../scheduler/settings.js';
import { makeTmpDir } from '../helpers/tmp.js';

function loadWith(env: Record<string, string>, warnings: string[] = []) {
  return loadSettings({ env, cwd: '/srv/app', warn: (m) => warnings.push(m) });
}

function configErrorOf(env: Record<string, string>): ConfigError {
  try {
    loadWith(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('settings', () => {
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
    expect(s.task).to.deep.equal({ retries: 3, retryDelayS: 30 });
    expect(s.http).to.deep.equal({ host: '127.0.0.1', port: 8974 });
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

  it('layers the section of DRIVETRAIN_ENV over the defaults', () => {
    const { dir, cleanup } = makeTmpDir();
    try {
      const file = path.join(dir, 'settings.toml');
      writeFileSync(
        file,
        `[default]\nhome = "./d"\nlog_dir = "./l"\ndags_dir = "./g"\n[default.source]\nurl = "http://a:1"\npage_size = 10\ntimeout_ms = 1\nretries = 1\nretry_min_timeout_ms = 1\nretry_max_timeout_ms = 1\n[default.source.breaker]\nerror_threshold_percentage = 50\nvolume_threshold = 1\nrolling_count_timeout_ms = 1\nreset_timeout_ms = 1\n[default.source.routes.cars]\npaged = "/c"\nunpaged = "/c/"\n[default.source.routes.customers]\npaged = "/u"\nunpaged = "/u/"\n[default.source.routes.subscriptions]\npaged = "/s"\nunpaged = "/s/"\n[default.load]\nmax_reject_share = 0.5\nbatch_rows = 10\n[default.task]\nretries = 1\nretry_delay_s = 1\n[default.scheduler]\nparallelism = 2\ntick = "* * * * *"\nlease_s = 2\nheartbeat_s = 1\nshutdown_grace_ms = 1\nlog_retention_days = 1\nscheduler_log_max_bytes = 2048\nscheduler_log_max_files = 1\n[default.http]\nhost = "h"\nport = 1\n[staging]\n[staging.source]\npage_size = 77\n`,
      );
      const s = loadSettings({ env: { DRIVETRAIN_SETTINGS_FILE: file, DRIVETRAIN_ENV: 'staging' }, cwd: dir, warn: () => {} });
      expect(s.env).to.equal('staging');
      expect(s.source.pageSize).to.equal(77);
      expect(s.source.url).to.equal('http://a:1');
      expect(s.home).to.equal(path.join(dir, 'd'));
    } finally {
      cleanup();
    }
  });

  it('names the variable of a malformed number', () => {
    const err = configErrorOf({ DRIVETRAIN_SOURCE_PAGE_SIZE: 'lots' });
    expect(err.setting).to.equal('DRIVETRAIN_SOURCE_PAGE_SIZE');
    expect(err.message).to.equal("DRIVETRAIN_SOURCE_PAGE_SIZE: 'lots' is not a number");
  });

  it('names the variable of an out-of-range or invalid value', () => {
    expect(configErrorOf({ DRIVETRAIN_HTTP_PORT: '70000' }).message).to.match(/^setting 'http\.port' \(DRIVETRAIN_HTTP_PORT\): /);
    expect(configErrorOf({ DRIVETRAIN_SOURCE_URL: 'not a url' }).setting).to.equal('DRIVETRAIN_SOURCE_URL');
    expect(configErrorOf({ DRIVETRAIN_TASK_RETRIES: '1.5' }).message).to.equal("DRIVETRAIN_TASK_RETRIES: '1.5' is not an integer");
    expect(configErrorOf({ DRIVETRAIN_NOW: 'yesterday' }).setting).to.equal('DRIVETRAIN_NOW');
    expect(configErrorOf({ DRIVETRAIN_LOG_LEVEL: 'loud' }).setting).to.equal('DRIVETRAIN_LOG_LEVEL');
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
});
