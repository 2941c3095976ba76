/** A poke met once a file exists: the path a template keyed to the run's data interval. */
import { stat } from 'node:fs/promises';
import type { PokeFn } from '../../scheduler/interfaces.js';
import { checkTemplate, renderTemplate } from './intervalTemplate.js';

/**
 * `fileExists('/inbox/{ds}/_SUCCESS')`: met when that path (placeholders of intervalTemplate.ts) is a
 * file or directory. Only "not there" is a no; any other error (a permission) fails the poke.
 */
export function fileExists(template: string): PokeFn {
  checkTemplate(template);
  return async (ctx) => {
    const file = renderTemplate(template, ctx);
    try {
      await stat(file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        ctx.log.info(`no file at ${file} yet`);
        return false;
      }
      throw err;
    }
  };
}
