/** The OpenAPI 3 document of the sample source service, served at /openapi.json. */
import { ENTITIES, ENTITY_SPECS, sourceRoutes, type EntityName, type FieldSpec } from '../operators/entities.js';

const DATETIME = 'ISO 8601 without zone, e.g. 2023-10-21T23:17:35.945166 (UTC)';

/** The OpenAPI schema of one declared field. */
function fieldSchema(field: FieldSpec): object {
  const nullable = field.nullable ? { nullable: true } : {};
  switch (field.type) {
    case 'key':
    case 'text':
      return { type: 'string', ...nullable };
    case 'datetime':
      return { type: 'string', description: DATETIME, ...nullable };
    case 'enum':
      return { type: 'string', enum: field.values, ...nullable };
    case 'number':
      return { type: 'number', ...nullable };
  }
}

function entitySchema(entity: EntityName): object {
  const { fields, businessKey } = ENTITY_SPECS[entity];
  return { type: 'object', required: [businessKey], properties: Object.fromEntries(fields.map((f) => [f.name, fieldSchema(f)])) };
}

/** The component name of an entity's rows: its hub's name, capitalised ('Car'). */
function schemaName(entity: EntityName): string {
  const { hub } = ENTITY_SPECS[entity];
  return hub.charAt(0).toUpperCase() + hub.slice(1);
}

/** Builds the document; `serverUrl` is where this instance listens. */
export function openApiDocument(serverUrl: string): object {
  const paths: Record<string, object> = {};
  for (const entity of ENTITIES) {
    const ref = { $ref: `#/components/schemas/${schemaName(entity)}` };
    const routes = sourceRoutes(entity);
    paths[routes.unpaged] = {
      get: {
        summary: `All ${entity} in one JSON array (the original unpaged API), in the source's order`,
        operationId: `list_${entity}`,
        responses: { '200': { description: 'OK', content: { 'application/json': { schema: { type: 'array', items: ref } } } } },
      },
    };
    paths[routes.paged] = {
      get: {
        summary: `One page of ${entity}, in the source's order (keyset paging on its position: the row index, or a SQLite file's rowid)`,
        operationId: `page_${entity}`,
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100000, default: 1000 } },
          { name: 'cursor', in: 'query', description: 'next_cursor of the previous page (opaque)', schema: { type: 'string' } },
        ],
        responses: {
          '200': {
            description: 'OK',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['data', 'next_cursor'],
                  properties: { data: { type: 'array', items: ref }, next_cursor: { type: 'string', nullable: true } },
                },
              },
            },
          },
          '400': { description: 'bad limit or cursor' },
        },
      },
    };
  }
  paths['/healthz'] = { get: { summary: 'Liveness', responses: { '200': { description: '{"status":"ok"}' } } } };
  return {
    openapi: '3.0.3',
    info: { title: 'Drivetrain sample source', version: '1.0.0', description: 'Cars, customers and subscriptions of a car-subscription company.' },
    servers: [{ url: serverUrl }],
    paths,
    components: { schemas: Object.fromEntries(ENTITIES.map((e) => [schemaName(e), entitySchema(e)])) },
  };
}
