import { expect } from 'chai';
import { ENTITIES, ENTITY_SPECS, hashKeysOf, sourceRoutes, type Entity } from '../../operators/entities.js';
import { SOURCE_FIELDS, VAULT_FIELDS } from '../../operators/load/fields.js';
import { hashKey, vaultColumns } from '../../operators/load/hashing.js';
import { fastValidRow, validateRow } from '../../operators/load/validation.js';
import { generateRow } from '../../source/generator.js';
import { openApiDocument } from '../../source/openapi.js';
import { FIELDS } from '../../source/rowSource.js';

const sizes = { cars: 10, customers: 10, subscriptions: 10 };

/** A valid row of `entity` that accepts any change to one field. */
function validRow(entity: Entity): Record<string, unknown> {
  return JSON.parse(JSON.stringify(generateRow(entity, 3, sizes, 5))) as Record<string, unknown>;
}

/** A value of a different kind than the field's type declares. */
function wrongKind(type: string): unknown {
  return type === 'number' ? 'four hundred' : 42;
}

describe('entity declaration', () => {
  it('declares the source fields of the contract, in its order', () => {
    expect(SOURCE_FIELDS).to.deep.equal({
      cars: ['id', 'vin', 'brand', 'model', 'engine_type', 'license_plate', 'registration_date', 'deregistration_date'],
      customers: ['id', 'first_name', 'second_name', 'type', 'company_name', 'address_city', 'address_zip', 'address_street', 'address_street_house'],
      subscriptions: ['id', 'customer_id', 'car_id', 'created_at', 'start_date', 'term_month', 'monthly_rate'],
    });
    expect(FIELDS).to.deep.equal(SOURCE_FIELDS);
  });

  it('gives the raw tables the hash key columns the vault models read, hub keys before the link', () => {
    expect(VAULT_FIELDS).to.deep.equal({
      cars: ['hk_car', 'hashdiff'],
      customers: ['hk_customer', 'hashdiff', 'hashdiff_pii'],
      subscriptions: ['hk_subscription', 'hk_customer', 'hk_car', 'hk_subscription_link', 'hashdiff'],
    });
    const row = validRow('subscriptions');
    expect(vaultColumns('subscriptions', row).hk_subscription_link).to.equal(hashKey(row.id, row.customer_id, row.car_id));
    expect(vaultColumns('subscriptions', row).hk_car).to.equal(vaultColumns('cars', { ...validRow('cars'), id: row.car_id }).hk_car);
  });

  it('derives the source routes from the entity name', () => {
    expect(ENTITIES.map(sourceRoutes)).to.deep.equal([
      { paged: '/v1/cars', unpaged: '/cars/' },
      { paged: '/v1/customers', unpaged: '/customers/' },
      { paged: '/v1/subscriptions', unpaged: '/subscriptions/' },
    ]);
  });

  it('validates each field as declared: type, accepted values and nullability', () => {
    for (const entity of ENTITIES) {
      for (const field of ENTITY_SPECS[entity].fields) {
        const at = `${entity}.${field.name}`;
        const check = (value: unknown): boolean => {
          const row = { ...validRow(entity), [field.name]: value };
          const fast = fastValidRow(entity, row) !== undefined;
          expect(fast, `${at} = ${JSON.stringify(value)}: the fast check and zod agree`).to.equal(validateRow(entity, row).ok);
          return fast;
        };
        expect(check(null), `${at} null`).to.equal(field.nullable);
        expect(check(wrongKind(field.type)), `${at} of another type`).to.equal(false);
        if (field.values) {
          for (const v of field.values) expect(check(v), `${at} = ${v}`).to.equal(true);
          expect(validateRow(entity, { ...validRow(entity), [field.name]: 'steam' })).to.deep.equal({
            ok: false,
            reason: `${field.name}: is not one of ${field.values.join('|')} (value "steam")`,
          });
        }
      }
    }
  });

  it('describes the declared fields in the sample source\'s OpenAPI document, on the derived routes', () => {
    const doc = openApiDocument('http://127.0.0.1:1') as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties: Record<string, { enum?: string[]; nullable?: boolean }> }> };
    };
    expect(Object.keys(doc.components.schemas)).to.deep.equal(['Car', 'Customer', 'Subscription']);
    expect(Object.keys(doc.components.schemas.Car.properties)).to.deep.equal(SOURCE_FIELDS.cars);
    expect(doc.components.schemas.Subscription.properties.term_month.enum).to.deep.equal(['six', 'twelve']);
    expect(doc.components.schemas.Car.properties.deregistration_date.nullable).to.equal(true);
    for (const entity of ENTITIES) expect(doc.paths).to.include.keys(sourceRoutes(entity).paged, sourceRoutes(entity).unpaged);
  });

  it('keys each hash on the declared business key and references', () => {
    expect(hashKeysOf('subscriptions')).to.deep.equal([
      { column: 'hk_subscription', of: ['id'] },
      { column: 'hk_customer', of: ['customer_id'] },
      { column: 'hk_car', of: ['car_id'] },
      { column: 'hk_subscription_link', of: ['id', 'customer_id', 'car_id'] },
    ]);
  });
});
