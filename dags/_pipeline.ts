/**
 * How the company's SQL models are spread over its DAGs (a helper of the DAG files: the loader skips
 * files starting with '_'). Core models are built by `ingest`, right after the raw loads;
 * day-partitioned marts by `marts_daily`; every other mart by `marts_monthly`. A data test runs in the
 * DAG of the latest layer it reads, so a reconciliation of a mart against the vault runs with the mart.
 */
import type { ModelSelection } from '../operators/sql/dagTasks.js';
import type { DataTest, Model, ModelRegistry } from '../operators/sql/registry.js';

/** The company DAGs that build SQL models. */
export type PipelineDag = 'ingest' | 'marts_daily' | 'marts_monthly';

/** The DAG that builds a model. */
export function dagOfModel(model: Model): PipelineDag {
  if (model.layer === 'core') return 'ingest';
  return model.config.materialized === 'partition' && model.config.partitionBy === 'day' ? 'marts_daily' : 'marts_monthly';
}

/** The DAG whose test task runs a data test: the latest layer among the models it reads. */
export function dagOfTest(test: DataTest, registry: ModelRegistry): PipelineDag {
  const dags = test.refs.map((r) => dagOfModel(registry.model(r)));
  if (dags.includes('marts_monthly')) return 'marts_monthly';
  if (dags.includes('marts_daily')) return 'marts_daily';
  return 'ingest';
}

/** The models and tests of one company DAG, for modelTaskSpecs(). */
export function selectionOf(dag: PipelineDag): ModelSelection {
  return { model: (m) => dagOfModel(m) === dag, test: (t, registry) => dagOfTest(t, registry) === dag };
}

/**
 * True for a data test that reads only the vault's loaded tables (hubs, the link, satellites: the
 * incremental models) and raw sources. The ingest DAG runs these in a test task of their own, which
 * starts once the vault is loaded and runs beside the timelines built from it, instead of after them.
 */
export function readsOnlyVault(test: DataTest, registry: ModelRegistry): boolean {
  return test.refs.every((r) => registry.model(r).config.materialized === 'incremental');
}
