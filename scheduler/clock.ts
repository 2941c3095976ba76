/**
 * Where "now" comes from. Only run creation and lease bookkeeping read it; data logic keys off the
 * run's interval. DRIVETRAIN_NOW (settings.fixedNow) pins it for tests and demos.
 */
import type { Clock } from './interfaces.js';
import type { Settings } from './settings.js';

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/** A clock stuck at `date`. */
export function fixedClock(date: Date): Clock {
  const ms = date.getTime();
  return { now: () => new Date(ms) };
}

/** The fixed clock of DRIVETRAIN_NOW when set, else the wall clock. */
export function clockFromSettings(settings: Settings): Clock {
  return settings.fixedNow ? fixedClock(settings.fixedNow) : systemClock;
}
