/**
 * Secrets never leave the process: every text that does (log lines, lake manifests, error messages
 * stored in the metadata, alerts) goes through {@link redact} on its way out. Two kinds are caught:
 *
 * - the password of any URL with userinfo (`http://user:pass@host` -> `http://user:***@host`), and a
 *   lone userinfo, which is a token (`https://TOKEN@host` -> `https://***@host`), whoever wrote the URL;
 * - the values this process knows to be secret (settings declared `secret`, registered by the settings
 *   loader), wherever they appear: a server echoing a password, a token in a header dump.
 *
 * The known values are process-wide on purpose: a secret is known from the moment the settings are
 * read, and every sink (the attempt logs, the scheduler log, the executor's last_error) must redact it
 * without being handed the settings.
 */

/** What a secret is replaced with. */
export const REDACTED = '***';

/**
 * Shorter values are not replaced in free text: a one-letter password would turn every such letter
 * of every log line into `***`. They are still redacted where they sit in a URL.
 */
export const MIN_SECRET_LENGTH = 4;

/**
 * The userinfo of a URL: `scheme://user:password@` or `scheme://token@`. The password runs to the last
 * `@` before the path, as a URL parser reads it; quotes, backslashes and whitespace end it, so a URL
 * inside JSON or a sentence does not swallow the text after it.
 */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:"'\\<>]*)(?::([^\s/?#"'\\<>]*))?@/gi;

/** Known secret values, longest first so a secret containing another is replaced whole. */
let known: string[] = [];

/**
 * Makes `value` a secret of this process: from now on {@link redact} replaces it wherever it appears,
 * also as JSON and percent-encoding write it. Empty and too-short values are ignored (see
 * {@link MIN_SECRET_LENGTH}).
 */
export function registerSecret(value: string | undefined): void {
  if (!value) return;
  const forms = new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]);
  try {
    forms.add(decodeURIComponent(value));
  } catch {
    // Not percent-encoded text: its literal form is enough.
  }
  const added = [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH && !known.includes(f));
  if (added.length > 0) known = [...known, ...added].sort((a, b) => b.length - a.length);
}

/** Makes the password (or lone user, a token; not of a postgres:// URL) of `url` a secret; nothing when it has no userinfo or is no URL. */
export function registerUrlSecret(url: string | undefined): void {
  if (!url) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return;
  }
  if (parsed.password) registerSecret(parsed.password);
  // A database URL's user is a role name (often 'postgres'), not a token: redacting it everywhere
  // would blank the word out of every log line.
  else if (parsed.username && !/^postgres(ql)?:$/i.test(parsed.protocol)) registerSecret(parsed.username);
}

/** `text` with every URL password and every known secret replaced by `***`. */
export function redact(text: string): string {
  let out = text;
  if (out.includes('://')) {
    out = out.replace(URL_USERINFO, (_m, scheme: string, user: string, password: string | undefined) =>
      password === undefined ? `${scheme}${user ? REDACTED : ''}@` : `${scheme}${user}:${REDACTED}@`,
    );
  }
  for (const secret of known) if (out.includes(secret)) out = out.replaceAll(secret, REDACTED);
  return out;
}

/** A URL as it may be shown: its password (or token) redacted. */
export const redactUrl: (url: string) => string = redact;

/**
 * One line for a thrown value, `Name: message`, redacted and then capped at `maxLength` (in that order,
 * so the cap never cuts a secret in half and leaves a part of it). What task_instances.last_error
 * and alerts store.
 */
export function redactError(err: unknown, maxLength = 2000): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return redact(text).slice(0, maxLength);
}

/**
 * Redacts an error in place before it is thrown on: its message, stack and string fields, and those
 * of its causes. Errors of other modules quote URLs (a request's, a redirect's) in their messages;
 * this keeps whoever catches the error from storing the password. Returns `err`.
 */
export function redactErrorInPlace<E>(err: E): E {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e instanceof Error && !seen.has(e) && seen.size < 20; e = e.cause) {
    seen.add(e);
    const fields = e as unknown as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(e)) {
      const value = fields[key];
      if (typeof value !== 'string') continue;
      const clean = redact(value);
      if (clean === value) continue;
      try {
        fields[key] = clean;
      } catch {
        // A readonly or getter-only field: the sinks redact it again anyway.
      }
    }
  }
  return err;
}
