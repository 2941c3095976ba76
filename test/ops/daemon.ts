/**
 * A real daemon child process for the ops tests: spawn it, wait for its health listener, probe it,
 * stop it with a signal and see how it exits. Output is kept so a failing test can show it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** A spawned process with its output so far. */
export interface Child {
  readonly proc: ChildProcess;
  /** stdout and stderr, interleaved as received. */
  output(): string;
  /** Resolves with the exit code (or the signal name) once it has exited. */
  readonly exited: Promise<number | string>;
}

/** Spawns `cmd args` with exactly `env` (nothing inherited) in `cwd`. */
export function spawnChild(cmd: string, args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Child {
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
    proc.once('error', (err) => {
      out += `\nspawn error: ${err.message}`;
      resolve(-1);
    });
  });
  return { proc, output: () => out, exited };
}

/** GET a URL and return status and body; undefined when nothing answers within `timeoutMs`. */
export async function probe(url: string, timeoutMs = 5000): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

/**
 * Polls `url` until `accept` says yes; throws with the child's output if the child exits or the
 * deadline passes first (the deadline only guards against hanging forever, it asserts nothing).
 */
export async function waitFor(
  child: Child,
  url: string,
  accept: (r: { status: number; body: string }) => boolean,
  deadlineMs: number,
): Promise<{ status: number; body: string }> {
  let exitedWith: number | string | undefined;
  void child.exited.then((c) => (exitedWith = c));
  const until = Date.now() + deadlineMs;
  let last: { status: number; body: string } | undefined;
  while (Date.now() < until) {
    if (exitedWith !== undefined) throw new Error(`daemon exited (${exitedWith}) before ${url} answered as expected:\n${child.output()}`);
    last = await probe(url, 3000);
    if (last && accept(last)) return last;
    await sleep(200);
  }
  throw new Error(`${url} never answered as expected (last: ${last ? `${last.status} ${last.body}` : 'no answer'}):\n${child.output()}`);
}

/** Sends `signal` and resolves with the exit code and the ms it took; kills it hard past `killAfterMs`. */
export async function stop(child: Child, signal: NodeJS.Signals, killAfterMs: number): Promise<{ code: number | string; ms: number }> {
  const t0 = Date.now();
  child.proc.kill(signal);
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), killAfterMs);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, ms: Date.now() - t0 };
}

/** One sample of a Prometheus text exposition, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}
