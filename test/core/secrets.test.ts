import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { attemptLogPath, createSchedulerLogger, openAttemptLog, SCHEDULER_LOG_FILE } from '../../scheduler/logging.js';
import { redact, redactError, redactErrorInPlace, registerSecret } from '../../scheduler/redact.js';
import { extractEntity } from '../../operators/extract/extractTask.js';
import { MANIFEST_FILE, partitionDir } from '../../operators/lake/manifest.js';
import { testTaskContext } from '../helpers/taskContext.js';
import { testSettings, useTmpDir } from '../helpers/tmp.js';
import { configErrorOf } from '../helpers/settings.js';

/** A password no other test's text contains: the registry of known secrets is process-wide. */
const PASSWORD = 'Pw-7c0e9f31-secret';
const USER = 'extractor';

/** A loopback source that checks Basic auth and answers every request with `status` (or one empty page on 200). */
async function startSource(status: number): Promise<{ url: string; authorizations: string[]; close(): Promise<void> }> {
  const authorizations: string[] = [];
  const server = http.createServer((req, res) => {
    authorizations.push(req.headers.authorization ?? '');
    if (status !== 200) return void res.writeHead(status).end('unavailable');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [{ id: 1, vin: 'V1' }], next_cursor: null }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${USER}:${PASSWORD}@127.0.0.1:${port}`,
    authorizations,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}


const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

describe('redaction of secrets', () => {
  it('replaces the password of any URL with userinfo, and a lone user (a token)', () => {
    expect(redact('GET http://user:pass@host:8000/v1/cars?limit=5 failed')).to.equal('GET http://user:***@host:8000/v1/cars?limit=5 failed');
    expect(redact('postgres://app:p%40ss@db:5432/dw and https://ghp_token@example.com/x')).to.equal('postgres://app:***@db:5432/dw and https://***@example.com/x');
    expect(redact('{"url":"http://u:p@ss@h/"}')).to.equal('{"url":"http://u:***@h/"}');
  });

  it('leaves URLs without userinfo and the text around a URL as they are', () => {
    const plain = '{"url":"http://127.0.0.1:8000/v1/cars","mail":"ops@example.com"} see https://example.com:443/a?b=c#d';
    expect(redact(plain)).to.equal(plain);
  });

  it('replaces a registered secret wherever it appears, also JSON-escaped', () => {
    registerSecret('tok"en-5d1b2a');
    expect(redact('Authorization: Bearer tok"en-5d1b2a')).to.equal('Authorization: Bearer ***');
    expect(redact(JSON.stringify({ token: 'tok"en-5d1b2a' }))).to.equal('{"token":"***"}');
  });

  it('redacts an error line before capping it, so no part of a secret survives the cap', () => {
    const err = new Error(`GET http://u:${PASSWORD}@h/ failed`);
    expect(redactError(err)).to.equal('Error: GET http://u:***@h/ failed');
    expect(redactError(err, 20)).to.equal('Error: GET http://u:');
    expect(redactError(`http://u:${PASSWORD}@h`)).to.equal('http://u:***@h');
  });

  it('redacts an error and its causes in place, message and stack', () => {
    const err = new Error('outer', { cause: new TypeError(`fetch http://u:${PASSWORD}@h failed`) });
    redactErrorInPlace(err);
    const cause = err.cause as Error;
    expect(cause.message).to.equal('fetch http://u:***@h failed');
    expect(cause.stack).not.to.contain(PASSWORD);
  });

  it('never quotes the password of a malformed source URL in the settings error', () => {
    const err = configErrorOf({ DRIVETRAIN_SOURCE_URL: `http://u:${PASSWORD}@bad host` });
    expect(err.setting).to.equal('DRIVETRAIN_SOURCE_URL');
    expect(err.message).not.to.contain(PASSWORD);
  });
});

describe('a source URL with a password', function () {
  this.timeout(30_000);
  const tmp = useTmpDir('drivetrain-secrets-');

  const settingsFor = (url: string) =>
    testSettings(tmp.dir, {
      DRIVETRAIN_SOURCE_URL: url,
      DRIVETRAIN_SOURCE_RETRIES: '2',
      DRIVETRAIN_SOURCE_RETRY_MIN_TIMEOUT_MS: '0',
      DRIVETRAIN_SOURCE_RETRY_MAX_TIMEOUT_MS: '0',
      DRIVETRAIN_BREAKER_VOLUME_THRESHOLD: '100',
    });

  it('is sent to the source but is in neither the attempt log nor the error of a failing extract', async () => {
    const source = await startSource(503);
    try {
      const settings = settingsFor(source.url);
      const ref = { dagId: 'ingest', runId: 'manual__secret', taskId: 'extract_cars', attempt: 1 };
      const log = openAttemptLog(settings.logDir, [ref]);
      const ctx = testTaskContext(settings, { log });
      const err = await extractEntity(ctx, { entity: 'cars' }).then(
        () => expect.fail('the extract should fail against a source answering 503'),
        (e: unknown) => e as Error,
      );
      log.logError(err);
      await log.close();
      expect(source.authorizations).to.have.length(3).and.to.satisfy((a: string[]) => a.every((h) => h === basic));
      expect(err.message).to.contain(`http://${USER}:***@127.0.0.1`);
      expect(err.message).not.to.contain(PASSWORD);
      expect(err.stack).not.to.contain(PASSWORD);
      expect(redactError(err)).not.to.contain(PASSWORD);
      const text = readFileSync(attemptLogPath(settings.logDir, ref), 'utf8');
      expect(text).to.contain('attempt 1 failed').and.to.contain(`${USER}:***@`);
      expect(text).not.to.contain(PASSWORD);
    } finally {
      await source.close();
    }
  });

  it('is not in the lake manifest of a successful extract', async () => {
    const source = await startSource(200);
    try {
      const settings = settingsFor(source.url);
      const result = await extractEntity(testTaskContext(settings, { ds: '2024-01-15' }), { entity: 'cars' });
      expect(result.rows).to.equal(1);
      expect(source.authorizations).to.deep.equal([basic]);
      const manifest = readFileSync(path.join(partitionDir(settings.lakeDir, 'cars', '2024-01-15'), MANIFEST_FILE), 'utf8');
      expect(JSON.parse(manifest).source_url).to.match(new RegExp(`^http://${USER}:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/v1/cars\\?limit=5000$`));
      expect(manifest).not.to.contain(PASSWORD);
    } finally {
      await source.close();
    }
  });

  it('is in neither stdout nor scheduler.log when a scheduler line quotes it', async () => {
    const settings = settingsFor(`http://${USER}:${PASSWORD}@127.0.0.1:9`);
    const stream = new PassThrough();
    let stdout = '';
    stream.on('data', (d: Buffer) => (stdout += d.toString()));
    const logger = createSchedulerLogger(settings, { stream });
    logger.error(`source ${settings.source.url} is down`, { url: settings.source.url, error: new Error(`GET ${settings.source.url}/cars/ failed`) });
    await logger.close();
    const file = readFileSync(path.join(settings.logDir, SCHEDULER_LOG_FILE), 'utf8');
    for (const text of [stdout, file]) {
      expect(text).to.contain(`${USER}:***@127.0.0.1:9`);
      expect(text).not.to.contain(PASSWORD);
    }
  });
});
