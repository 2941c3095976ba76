import { expect } from 'chai';
import { MetadataDb } from '../../scheduler/metadata/db.js';
import { MetadataUrlError } from '../../scheduler/metadata/MetadataUrlError.js';
import { parseMetadataUrl } from '../../scheduler/metadata/metadataUrl.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../scheduler/metadata/migrations.js';
import { redact } from '../../scheduler/redact.js';
import { loadSettings } from '../../scheduler/settings.js';
import { usePostgres } from '../helpers/postgres.js';
import { useTmpDir } from '../helpers/tmp.js';
import { cliEnv, runCli } from './harness.js';
import { configErrorOf } from '../helpers/settings.js';


describe('the metadata URL', () => {
  const tmp = useTmpDir('drivetrain-metaurl-');

  it('reads sqlite: with a relative or absolute file, a bare path, and postgres:// with or without password and port', () => {
    expect(parseMetadataUrl('sqlite:meta/m.db', '/srv/app')).to.deep.equal({ engine: 'sqlite', file: '/srv/app/meta/m.db' });
    expect(parseMetadataUrl('sqlite:/var/m.db', '/srv/app')).to.deep.equal({ engine: 'sqlite', file: '/var/m.db' });
    expect(parseMetadataUrl('/var/m.db', '/srv/app')).to.deep.equal({ engine: 'sqlite', file: '/var/m.db' });
    expect(parseMetadataUrl('postgres://dt:s%40cret@db.local:6543/meta')).to.deep.include({
      engine: 'postgres',
      host: 'db.local',
      port: 6543,
      database: 'meta',
      user: 'dt',
      password: 's@cret',
    });
    expect(parseMetadataUrl('postgresql://postgres@127.0.0.1/meta')).to.deep.include({ port: 5432, user: 'postgres', password: undefined });
  });

  it('refuses a URL without database, without user, of another scheme, or an empty sqlite path, quoting it with its password redacted', () => {
    const reasons = ['postgres://u:hunter22@h:5432/', 'postgres://h:5432/db', 'mysql://u@h/db', 'sqlite:'].map((u) => {
      try {
        parseMetadataUrl(u);
      } catch (err) {
        expect(err).to.be.instanceOf(MetadataUrlError);
        return (err as Error).message;
      }
      return 'accepted';
    });
    expect(reasons[0]).to.equal("'postgres://u:***@h:5432/': no database name (postgres://user@host:port/database)");
    expect(reasons[1]).to.match(/^'postgres:\/\/h:5432\/db': no user/);
    expect(reasons[2]).to.match(/^'mysql:\/\/\*\*\*@h\/db': not sqlite:PATH or postgres:/);
    expect(reasons[3]).to.equal("'sqlite:': sqlite: needs a file path");
  });

  it('defaults to sqlite: and the home\'s metadata.db, and resolves a relative sqlite: path against the working directory', () => {
    const base = { DRIVETRAIN_HOME: '/srv/data' };
    expect(loadSettings({ env: base, cwd: '/srv/app', warn: () => {} }).metadataUrl).to.equal('sqlite:/srv/data/metadata.db');
    expect(loadSettings({ env: { ...base, DRIVETRAIN_METADATA_URL: 'sqlite:m.db' }, cwd: '/srv/app', warn: () => {} }).metadataUrl).to.equal('sqlite:/srv/app/m.db');
    const url = 'postgres://postgres@127.0.0.1:5432/meta';
    expect(loadSettings({ env: { ...base, DRIVETRAIN_METADATA_URL: url }, cwd: '/srv/app', warn: () => {} }).metadataUrl).to.equal(url);
  });

  it('names the variable of a bad URL, its password redacted, and keeps a database user out of the secrets', () => {
    const err = configErrorOf({ DRIVETRAIN_METADATA_URL: 'postgres://dt:pa55word-x@db/' });
    expect(err.setting).to.equal('DRIVETRAIN_METADATA_URL');
    expect(err.message).to.include('DRIVETRAIN_METADATA_URL').and.include('no database name').and.not.include('pa55word-x');
    loadSettings({ env: { DRIVETRAIN_METADATA_URL: 'postgres://postgres@127.0.0.1:5432/meta' }, cwd: '/srv/app', warn: () => {} });
    expect(redact('the postgres role')).to.equal('the postgres role');
  });

  it('stops the CLI with exit 2 and one line naming the variable for a malformed URL', async () => {
    const r = await runCli(['dags', 'list'], cliEnv(tmp.dir, 'basic', { DRIVETRAIN_METADATA_URL: 'postgres://u:t0ps3cret@nohost' }));
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.include('DRIVETRAIN_METADATA_URL').and.not.include('t0ps3cret');
  });

  describe('on PostgreSQL', () => {
    const pg = usePostgres();

    it('is migrated once by daemons opening an empty database at the same time', async () => {
      const dbs = await Promise.all([1, 2, 3].map(() => MetadataDb.open(pg.url)));
      try {
        const versions = await Promise.all(dbs.map((db) => db.schemaVersion()));
        expect(new Set(versions).size).to.equal(1);
        const rows = await dbs[0].read((sql) => sql.all<{ version: number; n: number }>('SELECT version, COUNT(*) AS n FROM schema_version GROUP BY version'));
        expect(rows.every((r) => r.n === 1)).to.equal(true);
        // One row per migration: versions may have gaps (another branch's number not merged yet).
        expect(rows).to.have.length(MIGRATIONS.length);
        expect(versions[0]).to.equal(SCHEMA_VERSION);
      } finally {
        await Promise.all(dbs.map((db) => db.close()));
      }
    });
  });
});
