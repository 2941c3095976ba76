import { expect } from 'chai';
import { closeWarehouses, openWarehouse } from '../../operators/warehouse/registry.js';
import { postgresWarehouseReader, warehouseReaderOf } from '../../scheduler/web/warehouseReader.js';
import { usePostgres } from '../helpers/postgres.js';

describe("the console's warehouse reader on PostgreSQL", function () {
  this.timeout(30_000);
  const pg = usePostgres({ beforeDrop: closeWarehouses });

  it("reads the URL's schema with bound values, counts as numbers, and writes nothing", async () => {
    const url = `${pg.url}?schema=marts`;
    const wh = await openWarehouse(url);
    await wh.exec("CREATE TABLE infleeted_cars_volumes (day TEXT NOT NULL, cnt BIGINT NOT NULL); INSERT INTO infleeted_cars_volumes VALUES ('2024-01-01', 3), ('2024-01-02', 5)");
    const reader = postgresWarehouseReader(url);
    expect(await reader.all('SELECT "day", "cnt" FROM "infleeted_cars_volumes" WHERE "day" >= ? ORDER BY "day" LIMIT ? OFFSET ?', ['2024-01-02', 10, 0])).to.deep.equal([{ day: '2024-01-02', cnt: 5 }]);
    expect(await reader.all('SELECT COUNT(*) AS n FROM "infleeted_cars_volumes"')).to.deep.equal([{ n: 2 }]);
    const err = await reader.all('DELETE FROM "infleeted_cars_volumes"').catch((e: unknown) => e);
    expect(err).to.have.property('code', '25006');
    expect(warehouseReaderOf(undefined), 'no URL: the SQLite file').to.equal(undefined);
    expect(warehouseReaderOf('sqlite:./w.db'), 'a sqlite: URL: the SQLite file').to.equal(undefined);
  });
});
