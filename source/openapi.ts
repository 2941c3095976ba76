/** The OpenAPI 3 document of the sample source service, served at /openapi.json. */
import type { EntityName } from './generator.js';

const str = { type: 'string' };
const nstr = { type: 'string', nullable: true };
const dt = { type: 'string', description: 'ISO 8601 without zone, e.g. 2023-10-21T23:17:35.945166 (UTC)' };

const SCHEMAS: Record<EntityName, object> = {
  cars: {
    type: 'object',
    required: ['id'],
    properties: {
      id: str,
      vin: str,
      brand: str,
      model: str,
      engine_type: { type: 'string', enum: ['electric', 'hybrid', 'gasoline', 'diesel'] },
      license_plate: str,
      registration_date: dt,
      deregistration_date: { ...dt, nullable: true },
    },
  },
  customers: {
    type: 'object',
    required: ['id'],
    properties: {
      id: str,
      first_name: nstr,
      second_name: nstr,
      type: { type: 'string', enum: ['b2b', 'b2c'] },
      company_name: nstr,
      address_city: str,
      address_zip: str,
      address_street: str,
      address_street_house: str,
    },
  },
  subscriptions: {
    type: 'object',
    required: ['id'],
    properties: {
      id: str,
      customer_id: str,
      car_id: str,
      created_at: dt,
      start_date: dt,
      term_month: { type: 'string', enum: ['six', 'twelve'] },
      monthly_rate: { type: 'number' },
    },
  },
};

const SCHEMA_NAME: Record<EntityName, string> = { cars: 'Car', customers: 'Customer', subscriptions: 'Subscription' };

/** Builds the document; `serverUrl` is where this instance listens. */
export function openApiDocument(serverUrl: string): object {
  const paths: Record<string, object> = {};
  for (const entity of Object.keys(SCHEMAS) as EntityName[]) {
    const ref = { $ref: `#/components/schemas/${SCHEMA_NAME[entity]}` };
    paths[`/${entity}/`] = {
      get: {
        summary: `All ${entity} in one JSON array (the original unpaged API), ordered by id`,
        operationId: `list_${entity}`,
        responses: { '200': { description: 'OK', content: { 'application/json': { schema: { type: 'array', items: ref } } } } },
      },
    };
    paths[`/v1/${entity}`] = {
      get: {
        summary: `One page of ${entity}, ordered by id (keyset paging)`,
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
    components: { schemas: Object.fromEntries(Object.entries(SCHEMAS).map(([e, s]) => [SCHEMA_NAME[e as EntityName], s])) },
  };
}
