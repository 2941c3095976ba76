import { expect } from 'chai';
import { z } from 'zod';
import { InvalidParamsError } from '../../scheduler/errors/InvalidParamsError.js';
import { paramsJsonSchema, paramsSchemaFromJson, resolveParams } from '../../scheduler/params.js';

const schema = z.object({
  rows: z.number().int().min(0).default(3),
  mode: z.enum(['full', 'delta']).default('delta'),
  limits: z.object({ pages: z.number().default(10) }).default({ pages: 10 }),
});

/** The error resolveParams throws for `conf`. */
function refusal(conf: unknown, s: typeof schema | undefined = schema): InvalidParamsError {
  try {
    resolveParams('orders', s, conf);
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidParamsError);
    return err as InvalidParamsError;
  }
  throw new Error(`conf ${JSON.stringify(conf)} was accepted`);
}

describe('params', () => {
  it('fills in the defaults of what the conf leaves out, and keeps what it gives', () => {
    expect(resolveParams('orders', schema, {})).to.deep.equal({ rows: 3, mode: 'delta', limits: { pages: 10 } });
    expect(resolveParams('orders', schema, { rows: 0, limits: { pages: 2 } })).to.deep.equal({ rows: 0, mode: 'delta', limits: { pages: 2 } });
  });

  it('names the failing field, nested ones by their path, with the value given', () => {
    const bad = refusal({ rows: 'many' });
    expect(bad.message).to.equal(`DAG 'orders': conf field 'rows': Invalid input: expected number, received string (given "many")`);
    expect(bad).to.include({ dagId: 'orders', field: 'rows', value: 'many' });
    expect(refusal({ limits: { pages: true } }).message).to.match(/^DAG 'orders': conf field 'limits\.pages': .*\(given true\)$/);
    expect(refusal({ mode: 'fast' }).field).to.equal('mode');
  });

  it('names an unknown key of a strict schema by the key itself', () => {
    const err = refusal({ rows: 1, rowz: 2 }, schema.strict() as unknown as typeof schema);
    expect(err.field).to.equal('rowz');
    expect(err.message).to.match(/^DAG 'orders': conf field 'rowz': .* \(given 2\)$/);
  });

  it('refuses a conf that is not an object, with or without a schema', () => {
    expect(refusal([1], undefined).message).to.equal("DAG 'orders': conf object: must be a JSON object, not an array");
    expect(refusal('x').message).to.equal("DAG 'orders': conf object: must be a JSON object, not string");
    expect(resolveParams('orders', undefined, { any: 1 })).to.deep.equal({ any: 1 });
  });

  it('survives the trip through JSON Schema that the API takes: same defaults, same field named', () => {
    const json = paramsJsonSchema(schema);
    expect(JSON.parse(JSON.stringify(json))).to.deep.equal(json);
    const rebuilt = paramsSchemaFromJson(json)!;
    expect(resolveParams('orders', rebuilt, {})).to.deep.equal({ rows: 3, mode: 'delta', limits: { pages: 10 } });
    expect(refusal({ rows: -1 }, rebuilt as typeof schema).field).to.equal('rows');
    expect(paramsSchemaFromJson(null)).to.equal(undefined);
    expect(paramsJsonSchema(undefined)).to.equal(null);
  });
});
