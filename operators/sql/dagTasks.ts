/**
 * Builds a DAG's task specs from the model graph, dbt-like: a model file joins the DAG whose
 * selection takes it, with upstreams taken from its ref()/source() calls, without hand-wiring. Each
 * DAG ends with one data-test task running the tests it selects. Which models go to which DAG is
 * the DAG files' business (dags/_pipeline.ts), not this module's.
 */
import type { TaskSpec } from '../../scheduler/interfaces.js';
import { dataTestTask, defaultRegistry, modelTask } from './sqlTask.js';
import type { DataTest, Model, ModelRegistry } from './registry.js';

/** Which models and data tests one DAG runs; the DAG file decides, this module only wires. */
export interface ModelSelection {
  /** True for the models this DAG builds. */
  readonly model: (model: Model) => boolean;
  /** True for the data tests this DAG's test task runs. */
  readonly test: (test: DataTest, registry: ModelRegistry) => boolean;
}

/** Options of {@link modelTaskSpecs}. */
export interface ModelTaskSpecsOptions {
  readonly registry?: ModelRegistry;
  /** The task that fills a raw source table (e.g. cars -> load_cars); undefined = none in this DAG. */
  readonly sourceTask?: (source: string) => string | undefined;
  /** Id of the data-test task. Default 'data_tests'. */
  readonly testTaskId?: string;
  /** Extra options for the task factories (tests pass their warehouse). */
  readonly warehouseFile?: string;
}

/**
 * Task specs of one DAG's models (id = model name) and its data-test task. Partition models and the
 * data-test task of a DAG with partition models are `batch: true`: a backfill may hand them a range of intervals.
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
      batch: m.config.materialized === 'partition',
      description: m.config.description,
    };
  }
  const tests = [...registry.tests.values()].filter((t) => select.test(t, registry)).map((t) => t.name);
  if (tests.length > 0) {
    specs[opts.testTaskId ?? 'data_tests'] = {
      run: dataTestTask(tests, factoryOpts),
      upstream: names,
      // Batchable exactly when the DAG's models are: a test then checks the whole range at once.
      batch: names.some((n) => registry.model(n).config.materialized === 'partition'),
      retries: 0,
      description: `data tests: ${tests.join(', ')}`,
    };
  }
  return specs;
}
