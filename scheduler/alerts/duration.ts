/** Durations as DAG files write them: `6h`, `90m`, `1d2h`, `45s`; whole units, largest first. */

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** The duration in ms, or undefined when `text` is not one (or is zero). */
export function parseDuration(text: unknown): number | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  const m = DURATION.exec(text);
  if (!m) return undefined;
  const [d, h, min, s] = m.slice(1).map((v) => Number(v ?? 0));
  const ms = (((d * 24 + h) * 60 + min) * 60 + s) * 1000;
  return ms > 0 ? ms : undefined;
}
