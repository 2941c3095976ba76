/**
 * Builds a DAG's task specs from the model graph, dbt-like: a model file joins the DAG whose
 * selection takes it, with upstreams taken from its ref()/source() calls, without hand-wiring. A
 * DAG's data tests run in one test task (or a few, `testGroups`), each waiting for the models its
 * tests read. Which models and tests go to which DAG is the DAG files' business (dags/_pipeline.ts),
 * not this module's.
 */
import type { TaskSpec } from '../../scheduler/interfaces.js';
import { dataTestTask, defaultRegistry, modelTask } from './sqlTask.js';
import { ModelError } from './ModelError.js';
import { parameterNames } from './template.js';
import type { DataTest, Model, ModelRegistry } from './registry.js';

/** Which models and data tests one DAG runs; the DAG file decides, this module only wires. */
export interface ModelSelection {
  /** True for the models this DAG builds. */
  readonly model: (model: Model) => boolean;
  /** True for the data tests this DAG's test task runs. */
  readonly test: (test: DataTest, registry: ModelRegistry) => boolean;
}

/** A test task of its own in a DAG ({@link ModelTaskSpecsOptions.testGroups}). */
export interface TestGroup {
  /** The task's id. */
  readonly id: string;
  /** True for the DAG's tests this task runs. */
  readonly test: (test: DataTest, registry: ModelRegistry) => boolean;
}

/** Options of {@link modelTaskSpecs}. */
export interface ModelTaskSpecsOptions {
  readonly registry?: ModelRegistry;
  /** The task that fills a raw source table (e.g. cars -> load_cars); undefined = none in this DAG. */
  readonly sourceTask?: (source: string) => string | undefined;
  /** Id of the data-test task, which runs the DAG's tests no `testGroups` entry takes. Default 'data_tests'. */
  readonly testTaskId?: string;
  /**
   * Test tasks of their own, each running the DAG's tests its `test` accepts (the first group that
   * accepts a test takes it): tests that wait for less can run beside the models they do not read.
   * Default none.
   */
  readonly testGroups?: readonly TestGroup[];
  /** Extra options for the task factories (tests pass their warehouse). */
  readonly warehouseFile?: string;
}

/**
 * What a DAG's test task waits for, as `dbt build` runs a test once the models it reads are built: the
 * DAG's models its tests ref (in the DAG's order) and the tasks filling the sources they read. A model no test reads (a
 * timeline built last) then runs beside the tests instead of before them. Undefined when the tests
 * read nothing of this DAG: the test task then waits for every model.
 */
function testUpstream(tests: readonly DataTest[], names: readonly string[], sourceTask: ModelTaskSpecsOptions['sourceTask']): string[] | undefined {
  const read = new Set(tests.flatMap((t) => t.refs));
  const sources = new Set(tests.flatMap((t) => t.sources));
  const upstream = [
    ...[...sources].map((s) => sourceTask?.(s)).filter((t): t is string => t !== undefined),
    ...names.filter((n) => read.has(n)),
  ];
  return upstream.length > 0 ? [...new Set(upstream)] : undefined;
}

/**
 * Whether a backfill may hand the model's task a range of intervals in one call. A partition model
 * computes the range in one statement. A table model that reads no run parameter is rebuilt the same
 * whatever the interval, so one rebuild is what the range's would all have written (type_distribution
 * was rebuilt once per month of a backfill, one after another: 24 x 0.55 s at scale).
 */
function batchable(m: Model): boolean {
  if (m.config.materialized === 'partition') return true;
  return m.config.materialized === 'table' && m.statements.every((s) => parameterNames(s).length === 0);
}

/**
 * Task specs of one DAG's models (id = model name) and its data-test task(s). Batchable models
 * ({@link batchable}) and the data-test tasks of a DAG with one are `batch: true`: a backfill may hand
 * them a range of intervals.
 */
export function modelTaskSpecs(select: ModelSelection, opts: ModelTaskSpecsOptions = {}): Record<string, TaskSpec> {
  const registry = opts.registry ?? defaultRegistry();
  const factoryOpts = { registry, warehouseFile: opts.warehouseFile };
  const names = registry.ordered(select.model);
  const inDag = new Set(names);
  const specs: Record<string, TaskSpec> = {};
  for (const name of names) {
    const m = registry.model(name);
    const upstream = [
      ...m.sources.map((s) => opts.sourceTask?.(s)).filter((t): t is string => t !== undefined),
      ...m.refs.filter((r) => inDag.has(r)),
    ];
    specs[name] = {
      run: modelTask(name, factoryOpts),
      upstream: [...new Set(upstream)],
      batch: batchable(m),
      description: m.config.description,
    };
  }
  const tests = [...registry.tests.values()].filter((t) => select.test(t, registry));
  const groups = [...(opts.testGroups ?? []), { id: opts.testTaskId ?? 'data_tests', test: () => true }];
  // Batchable exactly when the DAG's models are: a test then checks the whole range at once.
  const batch = names.some((n) => batchable(registry.model(n)));
  for (const group of groups) {
    const mine = tests.filter((t) => groups.find((g) => g.test(t, registry)) === group);
    if (mine.length === 0) continue;
    if (specs[group.id]) throw new ModelError(`test task '${group.id}' has the id of another task of the DAG`, group.id);
    specs[group.id] = {
      run: dataTestTask(mine.map((t) => t.name), factoryOpts),
      upstream: testUpstream(mine, names, opts.sourceTask) ?? names,
      batch,
      retries: 0,
      description: `data tests: ${mine.map((t) => t.name).join(', ')}`,
    };
  }
  return specs;
}
