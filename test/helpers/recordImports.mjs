// A module-resolution hook for tests that check what a command loads: preloaded with
// `--import ./test/helpers/recordImports.mjs`, it appends the URL of every module the process resolves
// to the file named by DT_IMPORTS_FILE. Plain JavaScript: it runs in the loader thread, before tsx
// compiles anything.
import { appendFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { register } from 'node:module';

let file;

/** Receives the output file from the registration below. */
export function initialize(data) {
  file = data.file;
}

/** Lets the other hooks (tsx) resolve, then records the result. */
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (file) appendFileSync(file, `${result.url}\n`);
  return result;
}

if (isMainThread && process.env.DT_IMPORTS_FILE) register(import.meta.url, { data: { file: process.env.DT_IMPORTS_FILE } });
