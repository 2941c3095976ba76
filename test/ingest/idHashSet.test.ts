import { expect } from 'chai';
import { IdHashSet } from '../../operators/load/fast/IdHashSet.js';

describe('id hash set', () => {
  it('says whether an id was seen, growing past its expected size', () => {
    const set = new IdHashSet(4);
    const ids = Array.from({ length: 50_000 }, (_, i) => `${i.toString(16).padStart(8, '0')}-5b1c-4a2e-9f3d-0123456789ab`);
    expect(ids.every((id) => set.add(id))).to.equal(true);
    expect(ids.every((id) => !set.add(id))).to.equal(true);
    expect(set.add('')).to.equal(true);
    expect(set.add('')).to.equal(false);
    expect(set.add('ok1')).to.equal(true);
    expect(set.add('OK1')).to.equal(true);
  });

  it('flags no new id of a million as seen (a false hit would only cost the load a query, but must be rare)', () => {
    const set = new IdHashSet(1_000_000);
    let falseHits = 0;
    for (let i = 0; i < 1_000_000; i++) if (!set.add(`SUB-${i}`)) falseHits++;
    expect(falseHits).to.equal(0);
    expect(set.add('SUB-999999')).to.equal(false);
  });
});
