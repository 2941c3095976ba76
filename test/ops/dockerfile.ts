/**
 * A small Dockerfile reader for the image tests: no Docker engine runs in CI, so the tests take the
 * image's WORKDIR, ENV, COPY, USER, ENTRYPOINT, CMD and HEALTHCHECK from the Dockerfile itself and
 * reproduce them, so a change to the Dockerfile changes what the tests run.
 * It understands the subset Drivetrain's Dockerfile uses (and says so when it meets anything else).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** One instruction, line continuations joined. */
export interface Instruction {
  /** Upper-cased keyword, e.g. `ENV`. */
  readonly keyword: string;
  /** Everything after the keyword. */
  readonly args: string;
  /** 1-based line where it starts, for error messages. */
  readonly line: number;
}

/** One COPY of the final stage. */
export interface CopySpec {
  /** `--from=<stage>` if any: the file comes from another stage, not the build context. */
  readonly from: string | undefined;
  /** Sources, relative to the build context (or absolute in the `from` stage). */
  readonly sources: readonly string[];
  /** Destination, absolute (resolved against the WORKDIR in force). */
  readonly dest: string;
}

/** What the tests need of the image's final stage. */
export interface ImageSpec {
  readonly workdir: string;
  /** ENV of the final stage, in order; later keys win. */
  readonly env: Readonly<Record<string, string>>;
  readonly user: string | undefined;
  readonly copies: readonly CopySpec[];
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** The HEALTHCHECK's exec-form command, without the `CMD` keyword. */
  readonly healthcheck: readonly string[] | undefined;
  readonly volumes: readonly string[];
  readonly exposed: readonly string[];
}

/** Splits a Dockerfile into instructions (comments dropped, `\` continuations joined). */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let buf = '';
  let start = 0;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comment lines are dropped even inside a continuation, as Docker does.
    if (trimmed.startsWith('#') || (trimmed === '' && buf === '')) return;
    if (buf === '') start = i + 1;
    if (trimmed.endsWith('\\')) {
      buf += `${trimmed.slice(0, -1)} `;
      return;
    }
    buf += trimmed;
    const m = /^(\S+)\s*(.*)$/s.exec(buf.trim());
    if (m) out.push({ keyword: m[1].toUpperCase(), args: m[2].trim(), line: start });
    buf = '';
  });
  return out;
}

/** Shell-like word splitting with single and double quotes (enough for ENV and COPY). */
export function words(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'") {
      const end = s.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unterminated quote in '${s}'`);
      cur += s.slice(i + 1, end).replace(c === '"' ? /\\(["\\$])/g : /$^/g, '$1');
      i = end;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

function execForm(ins: Instruction): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(ins.args);
  } catch {
    throw new Error(`line ${ins.line}: ${ins.keyword} is not in exec (JSON array) form: '${ins.args}'`);
  }
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string')) {
    throw new Error(`line ${ins.line}: ${ins.keyword} must be a JSON array of strings: '${ins.args}'`);
  }
  return parsed;
}

function expand(value: string, env: Readonly<Record<string, string>>): string {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => env[(a ?? b) as string] ?? '');
}

/** Reads the final stage of a Dockerfile. */
export function readImageSpec(file: string): ImageSpec {
  const all = instructions(readFileSync(file, 'utf8'));
  const lastFrom = all.map((i) => i.keyword).lastIndexOf('FROM');
  if (lastFrom < 0) throw new Error(`${file}: no FROM instruction`);
  let workdir = '/';
  const env: Record<string, string> = {};
  let user: string | undefined;
  const copies: CopySpec[] = [];
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  let healthcheck: string[] | undefined;
  const volumes: string[] = [];
  const exposed: string[] = [];
  for (const ins of all.slice(lastFrom + 1)) {
    switch (ins.keyword) {
      case 'WORKDIR':
        workdir = path.posix.resolve(workdir, expand(ins.args, env));
        break;
      case 'ENV': {
        const parts = words(ins.args);
        if (parts.length > 0 && !parts[0].includes('=')) {
          // Legacy `ENV KEY value with spaces`.
          env[parts[0]] = ins.args.slice(ins.args.indexOf(parts[0]) + parts[0].length).trim();
        } else {
          for (const p of parts) {
            const eq = p.indexOf('=');
            env[p.slice(0, eq)] = expand(p.slice(eq + 1), env);
          }
        }
        break;
      }
      case 'USER':
        user = ins.args;
        break;
      case 'COPY':
      case 'ADD': {
        const parts = ins.args.startsWith('[') ? execForm(ins) : words(ins.args);
        let from: string | undefined;
        const rest: string[] = [];
        for (const p of parts) {
          if (p.startsWith('--from=')) from = p.slice('--from='.length);
          else if (!p.startsWith('--')) rest.push(p);
        }
        if (rest.length < 2) throw new Error(`line ${ins.line}: ${ins.keyword} needs a source and a destination`);
        const destRaw = rest[rest.length - 1];
        const dest = path.posix.resolve(workdir, destRaw) + (destRaw.endsWith('/') ? '/' : '');
        copies.push({ from, sources: rest.slice(0, -1), dest });
        break;
      }
      case 'ENTRYPOINT':
        entrypoint = execForm(ins);
        break;
      case 'CMD':
        cmd = execForm(ins);
        break;
      case 'HEALTHCHECK': {
        const at = ins.args.search(/\bCMD\s/);
        if (ins.args.trim() === 'NONE') healthcheck = undefined;
        else if (at < 0) throw new Error(`line ${ins.line}: HEALTHCHECK without CMD`);
        else healthcheck = execForm({ ...ins, args: ins.args.slice(at + 3).trim() });
        break;
      }
      case 'VOLUME':
        volumes.push(...(ins.args.startsWith('[') ? execForm(ins) : words(ins.args)));
        break;
      case 'EXPOSE':
        exposed.push(...words(ins.args));
        break;
      default:
        // RUN, ARG, LABEL, STOPSIGNAL...: nothing a process-level reproduction can use.
        break;
    }
  }
  return { workdir, env, user, copies, entrypoint, cmd, healthcheck, volumes, exposed };
}
