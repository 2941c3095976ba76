/** Settings that must be refused: the ConfigError loadSettings throws, for its message and setting. */
import { expect } from 'chai';
import { ConfigError } from '../../scheduler/errors/ConfigError.js';
import { loadSettings } from '../../scheduler/settings.js';

/** The ConfigError loadSettings throws for `env` (read in `cwd`); fails the test when it throws nothing. */
export function configErrorOf(env: Record<string, string>, cwd = '/srv/app'): ConfigError {
  try {
    loadSettings({ env, cwd, warn: () => {} });
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}
