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

/** The cookie the console's token form sets, so that reloading the page carries the token (a navigation cannot send a header). */
export const CONSOLE_TOKEN_COOKIE = 'drivetrain_token';

/**
 * True when a request for the console's page carries the token: as a bearer header, or as the cookie
 * the page's token form sets. Only the page (which holds no data) accepts the cookie; the API wants the
 * header, so a cross-site form can never make the browser send a change on the user's behalf.
 */
export function consoleTokenMatches(headers: { authorization?: string; cookie?: string }, token: string): boolean {
  if (bearerMatches(headers.authorization, token)) return true;
  for (const part of (headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== CONSOLE_TOKEN_COOKIE) continue;
    let value: string;
    try {
      value = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return false;
    }
    return timingSafeEqual(digest(value), digest(token));
  }
  return false;
}

/** True when an Authorization header carries exactly `Bearer <token>`. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer ([^\s]+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  return timingSafeEqual(digest(m[1]), digest(token));
}
