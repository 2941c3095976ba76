/** The company's entities, and where the source serves each one. */

/** The entities, in ingest order. */
export const ENTITIES = ['cars', 'customers', 'subscriptions'] as const;

/** An entity's name: its source route segment, raw table and lake folder. */
export type Entity = (typeof ENTITIES)[number];

/** The source's routes of an entity. */
export interface SourceRoutes {
  /** Cursor-paged route, e.g. `/v1/cars`. */
  readonly paged: string;
  /** The original unpaged route, e.g. `/cars/`. */
  readonly unpaged: string;
}

/** The routes the source serves `entity` on: the original API's, derived from its name. */
export function sourceRoutes(entity: Entity): SourceRoutes {
  return { paged: `/v1/${entity}`, unpaged: `/${entity}/` };
}
