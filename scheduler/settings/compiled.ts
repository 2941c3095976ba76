/**
 * The declarations compiled once, at import: the flat list with each setting's settings-file key,
 * the variable map, and one strict zod schema of the whole settings tree. A declaration whose
 * default fails its own schema, or a variable declared twice, stops the import: that is a bug here,
 * not a user's bad input.
 */
import { z } from 'zod';
import { BOOTSTRAP, SETTINGS, type Declaration, type DeclarationTree } from './declarations.js';

/** How a variable's text becomes a value, read off its schema. */
export type EnvKind = 'string' | 'number' | 'integer';

/** One declaration with where it lives. */
export interface CompiledSetting {
  readonly declaration: Declaration;
  /** Place in the typed settings, e.g. `['source', 'pageSize']`. */
  readonly field: readonly string[];
  /** Place in the settings file, e.g. `['source', 'page_size']`. */
  readonly tomlPath: readonly string[];
  /** The dotted settings-file key, e.g. `source.page_size`. */
  readonly key: string;
  readonly envKind: EnvKind;
}

/** A leaf of the tree, not a group of settings. */
export function isDeclaration(node: Declaration | DeclarationTree): node is Declaration {
  return node.schema instanceof z.ZodType;
}

/** A typed-settings field name as a settings-file key: `pageSize` -> `page_size`. */
export const snakeCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The schema's base type, seen through `.optional()` and `.transform()` wrappers. */
function envKindOf(schema: z.ZodType): EnvKind {
  let inner: z.ZodType = schema;
  for (;;) {
    if (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = inner.unwrap() as z.ZodType;
    else if (inner instanceof z.ZodPipe) inner = inner.in as z.ZodType;
    else break;
  }
  if (inner instanceof z.ZodNumber) return inner.isInt ? 'integer' : 'number';
  return 'string';
}

function flatten(tree: DeclarationTree, field: readonly string[] = []): CompiledSetting[] {
  return Object.entries(tree).flatMap(([name, node]) => {
    const at = [...field, name];
    if (!isDeclaration(node)) return flatten(node, at);
    const tomlPath = at.map(snakeCase);
    return [{ declaration: node, field: at, tomlPath, key: tomlPath.join('.'), envKind: envKindOf(node.schema) }];
  });
}

/** Every setting, in declaration order. */
export const COMPILED: readonly CompiledSetting[] = flatten(SETTINGS);

/** Settings by their variable. */
export const BY_ENV: ReadonlyMap<string, CompiledSetting> = new Map(COMPILED.map((c) => [c.declaration.env, c]));

/** Settings by their dotted settings-file key. */
export const BY_KEY: ReadonlyMap<string, CompiledSetting> = new Map(COMPILED.map((c) => [c.key, c]));

/** Every DRIVETRAIN_* variable Drivetrain reads: no warning for these. */
export const KNOWN_VARIABLES: ReadonlySet<string> = new Set([...BY_ENV.keys(), ...Object.values(BOOTSTRAP).map((b) => b.env)]);

function schemaOf(tree: DeclarationTree): z.ZodType {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, node] of Object.entries(tree)) shape[snakeCase(name)] = isDeclaration(node) ? node.schema : schemaOf(node);
  return z.object(shape).strict();
}

/** The layered settings tree (settings-file keys) is valid when this parses it. */
export const TREE_SCHEMA: z.ZodType = schemaOf(SETTINGS);

function checkDeclarations(): void {
  if (BY_ENV.size + Object.keys(BOOTSTRAP).length !== KNOWN_VARIABLES.size || BY_ENV.size !== COMPILED.length) {
    throw new Error('settings declarations: a DRIVETRAIN_* variable is declared twice');
  }
  for (const c of COMPILED) {
    const d = c.declaration;
    if (d.default !== undefined && !d.schema.safeParse(d.default).success) {
      throw new Error(`settings declarations: the default of '${c.key}' (${d.env}) fails its own schema`);
    }
  }
}
checkDeclarations();
