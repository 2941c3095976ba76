/**
 * The API's bearer token: DRIVETRAIN_API_TOKEN, else the content of DRIVETRAIN_API_TOKEN_FILE (a mounted
 * secret). State-changing requests need it, and with a token set every `/api` request does; without one
 * the API is read-only (403 on changes). The comparison is on hashes of equal length in constant time,
 * so the answer's timing says nothing about how much of a guess was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors/ConfigError.js';
import { registerSecret } from '../redact.js';
import type { Settings } from '../settings.js';

/** The configured token, or undefined (read-only console). ConfigError when the token file cannot be read or is empty. */
export function resolveApiToken(settings: Settings): string | undefined {
  if (settings.http.apiToken) return settings.http.apiToken;
  const file = settings.http.apiTokenFile;
  if (!file) return undefined;
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`DRIVETRAIN_API_TOKEN_FILE: cannot read '${file}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'DRIVETRAIN_API_TOKEN_FILE');
  }
  if (token === '') throw new ConfigError(`DRIVETRAIN_API_TOKEN_FILE: '${file}' is empty`, 'DRIVETRAIN_API_TOKEN_FILE');
  // Read from a file, it is not among the settings the loader registered: the redaction learns it here.
  registerSecret(token);
  return token;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** True when an Authorization header carries exactly `Bearer <token>`. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer ([^\s]+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  return timingSafeEqual(digest(m[1]), digest(token));
}
