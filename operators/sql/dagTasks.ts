/**
 * Builds a DAG's task specs from the model graph, dbt-like: a new model file joins its DAG with
 * upstreams taken from its ref()/source() calls, without hand-wiring. Core models belong to the
 * ingest DAG; day-partitioned marts to the daily marts DAG; other marts to the monthly one. Each
 * DAG ends with one data-test task running every test that reads its models.
 */
import type { TaskSpec } from '../../scheduler/interfaces.js';
import { dataTestTask, defaultRegistry, modelTask } from './sqlTask.js';
import type { DataTest, Model, ModelRegistry } from './registry.js';

/** The company DAGs models are spread over. */
export type ModelDag = 'ingest' | 'marts_daily' | 'marts_monthly';

/** The DAG that builds a model. */
export function dagOfModel(model: Model): ModelDag {
  if (model.layer === 'core') return 'ingest';
  return model.config.materialized === 'partition' && model.config.partitionBy === 'day' ? 'marts_daily' : 'marts_monthly';
}

/** The DAG whose data-test task runs a test: the latest layer among the models it reads. */
export function dagOfTest(test: DataTest, registry: ModelRegistry): ModelDag {
  const dags = test.refs.map((r) => dagOfModel(registry.model(r)));
  if (dags.includes('marts_monthly')) return 'marts_monthly';
  if (dags.includes('marts_daily')) return 'marts_daily';
  return 'ingest';
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
 * data-test task of a marts DAG are `batch: true`: a backfill may hand them a range of intervals.
 */
export function modelTaskSpecs(dag: ModelDag, opts: ModelTaskSpecsOptions = {}): Record<string, TaskSpec> {
  const registry = opts.registry ?? defaultRegistry();
  const factoryOpts = { registry, warehouseFile: opts.warehouseFile };
  const names = registry.ordered((m) => dagOfModel(m) === dag);
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
  const tests = [...registry.tests.values()].filter((t) => dagOfTest(t, registry) === dag).map((t) => t.name);
  if (tests.length > 0) {
    specs[opts.testTaskId ?? 'data_tests'] = {
      run: dataTestTask(tests, factoryOpts),
      upstream: names,
      batch: dag !== 'ingest',
      retries: 0,
      description: `data tests: ${tests.join(', ')}`,
    };
  }
  return specs;
}
