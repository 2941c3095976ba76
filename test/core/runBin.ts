/** Runs the real `drivetrain` bin (or a module's inline script) in a child process, for tests of what a user sees. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What a finished child printed and how it ended. */
export interface ChildResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node --import tsx ...args` from the repo root with `env` and resolves once it has exited. */
export function runNode(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ChildResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `drivetrain ...args`. */
export function runBin(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ChildResult> {
  return runNode([path.join(REPO, 'bin', 'drivetrain.ts'), ...args], env);
}
