/**
 * A DAG's params (Airflow's Params): a zod schema over the run's conf. A triggered run's conf is
 * validated when it is triggered (CLI and API) and stored with the defaults filled in; every attempt
 * parses its run's stored conf again, so scheduled and backfill runs (conf `{}`) get the defaults and
 * a task always sees what the schema promises.
 *
 * The API answers from the metadata alone (serializedDag.ts), so the schema is stored as JSON Schema
 * and rebuilt there with zod's fromJSONSchema. Refinements and transforms do not survive that trip:
 * the API checks the shape, and the attempt's parse with the DAG file's own schema checks the rest.
 */
import { z } from 'zod';
import { InvalidParamsError } from './errors/InvalidParamsError.js';

/** A params schema, as a DAG declares it. */
export type ParamsSchema = z.ZodType<Record<string, unknown>>;

/** The value at `path` in `conf`, for the error message; undefined when there is none. */
function valueAt(conf: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = conf;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** The params of a run of `dagId` with conf `conf`: parsed by `schema` (defaults filled in), or `conf` as it is without one. */
export function resolveParams(dagId: string, schema: ParamsSchema | undefined, conf: unknown): Record<string, unknown> {
  const given = conf ?? {};
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new InvalidParamsError(dagId, '', `must be a JSON object, not ${Array.isArray(given) ? 'an array' : typeof given}`);
  }
  if (!schema) return { ...(given as Record<string, unknown>) };
  const parsed = schema.safeParse(given);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  return throwIssue(dagId, given, issue);
}

function throwIssue(dagId: string, conf: unknown, issue: z.core.$ZodIssue): never {
  // An unknown key (a strict schema) is named by the key itself, not by the object that holds it.
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const path = keys.length > 0 ? [...issue.path, keys[0]] : issue.path;
  const field = path.map(String).join('.');
  throw new InvalidParamsError(dagId, field, issue.message, field === '' ? undefined : valueAt(conf, path));
}

/** The JSON Schema of a params schema (its input side: fields with a default are optional), or null when zod cannot express it. */
export function paramsJsonSchema(schema: ParamsSchema | undefined): Record<string, unknown> | null {
  if (!schema) return null;
  try {
    return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** A params schema rebuilt from its stored JSON Schema (the API's view), or undefined for none. */
export function paramsSchemaFromJson(json: Record<string, unknown> | null | undefined): ParamsSchema | undefined {
  if (!json) return undefined;
  return z.fromJSONSchema(json as Parameters<typeof z.fromJSONSchema>[0]) as ParamsSchema;
}
