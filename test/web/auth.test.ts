/** The API token: from DRIVETRAIN_API_TOKEN or a token file, a secret wherever text leaves the process. */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { ConfigError } from '../../scheduler/errors/ConfigError.js';
import { redact } from '../../scheduler/redact.js';
import { bearerMatches, resolveApiToken } from '../../scheduler/web/auth.js';
import { testSettings, useTmpDir } from '../helpers/tmp.js';

describe('the API token', () => {
  const tmp = useTmpDir('drivetrain-token-');

  it('is read from DRIVETRAIN_API_TOKEN and redacted from any text', () => {
    const settings = testSettings(tmp.dir, { DRIVETRAIN_API_TOKEN: 'tok-from-variable-1' });
    expect(resolveApiToken(settings)).to.equal('tok-from-variable-1');
    expect(redact('Authorization: Bearer tok-from-variable-1')).to.equal('Authorization: Bearer ***');
  });

  it('is read from the file DRIVETRAIN_API_TOKEN_FILE names, trimmed, and redacted too', () => {
    writeFileSync(tmp.path('token'), 'tok-from-file-2\n');
    const settings = testSettings(tmp.dir, { DRIVETRAIN_API_TOKEN_FILE: tmp.path('token') });
    expect(resolveApiToken(settings)).to.equal('tok-from-file-2');
    expect(redact('echo tok-from-file-2')).to.equal('echo ***');
  });

  it('names the variable when the token file is missing or empty', () => {
    writeFileSync(tmp.path('empty'), '\n');
    for (const file of [tmp.path('missing'), tmp.path('empty')]) {
      const settings = testSettings(tmp.dir, { DRIVETRAIN_API_TOKEN_FILE: file });
      expect(() => resolveApiToken(settings)).to.throw(ConfigError, /^DRIVETRAIN_API_TOKEN_FILE: /);
    }
  });

  it('is undefined (a read-only API) when neither is set', () => {
    expect(resolveApiToken(testSettings(tmp.dir))).to.equal(undefined);
  });

  it('matches only the exact bearer token', () => {
    expect(bearerMatches('Bearer abcd1234', 'abcd1234')).to.equal(true);
    expect(bearerMatches('bearer abcd1234', 'abcd1234')).to.equal(true);
    for (const h of [undefined, '', 'Bearer abcd123', 'Bearer abcd12345', 'Basic abcd1234', 'Bearer  ', 'abcd1234']) expect(bearerMatches(h, 'abcd1234'), String(h)).to.equal(false);
  });
});
