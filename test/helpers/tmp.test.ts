import { expect } from 'chai';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KitUsageError } from './KitUsageError.js';
import { useTmpDir, useTmpWarehouse } from './tmp.js';

describe('the temporary-directory hook', () => {
  describe('per test', () => {
    const tmp = useTmpDir('drivetrain-kit-tmp-');
    const seen: string[] = [];
    const outside = (() => {
      try {
        return tmp.dir;
      } catch (err) {
        return err;
      }
    })();

    it('gives each test a new empty directory under the OS temp dir', () => {
      expect(path.dirname(tmp.dir)).to.equal(os.tmpdir());
      expect(path.basename(tmp.dir)).to.match(/^drivetrain-kit-tmp-/);
      writeFileSync(tmp.path('a.txt'), 'a');
      seen.push(tmp.dir);
    });

    it('removes the previous test\'s directory and gives the next one its own', () => {
      expect(seen).to.have.length(1);
      expect(existsSync(seen[0])).to.equal(false);
      expect(tmp.dir).to.not.equal(seen[0]);
      expect(existsSync(tmp.path('a.txt'))).to.equal(false);
    });

    it('refuses to name a directory outside a test', () => {
      expect(outside).to.be.an.instanceOf(KitUsageError);
      expect((outside as Error).message).to.include("'drivetrain-kit-tmp-'");
    });
  });

  describe('per suite', () => {
    // Read by the sibling suite below, which runs after this suite's after hooks.
    const order: string[] = [];
    let kept: string | undefined;

    describe('with teardown before removal', () => {
      const tmp = useTmpDir('drivetrain-kit-suite-', {
        scope: 'suite',
        beforeRemove: () => void order.push(`beforeRemove sees the file: ${existsSync(path.join(kept!, 'f'))}`),
      });

      it('keeps one directory across the tests of the suite', () => {
        kept = tmp.dir;
        writeFileSync(tmp.path('f'), '');
      });

      it("still has the first test's file in the second test", () => {
        expect(tmp.dir).to.equal(kept);
        expect(existsSync(tmp.path('f'))).to.equal(true);
      });
    });

    describe('once that suite is done', () => {
      it('ran beforeRemove while the file was there, then removed the directory', () => {
        expect(order).to.deep.equal(['beforeRemove sees the file: true']);
        expect(existsSync(kept!)).to.equal(false);
      });
    });
  });

  describe('for a warehouse', () => {
    const wh = useTmpWarehouse({ DRIVETRAIN_SOURCE_PAGE_SIZE: '7' });

    it('points the settings into the test\'s directory, with the overrides', () => {
      expect(wh.settings.home).to.equal(path.join(wh.dir, 'home'));
      expect(wh.settings.source.pageSize).to.equal(7);
    });
  });
});
