import { expect } from 'chai';
import { WriteQueue } from '../../operators/warehouse/WriteQueue.js';

/** Lets every pending promise callback and I/O callback run. */
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('write queue', () => {
  it('starts a writer only after the one before it has finished, in the order they asked', async () => {
    const queue = new WriteQueue();
    const order: string[] = [];
    let finishA!: () => void;
    const a = queue.run(async () => {
      order.push('a starts');
      await new Promise<void>((resolve) => (finishA = resolve));
      order.push('a ends');
    });
    const b = queue.run(async () => {
      order.push('b starts');
    });
    await turns(5);
    expect(order).to.deep.equal(['a starts']);
    finishA();
    await Promise.all([a, b]);
    expect(order).to.deep.equal(['a starts', 'a ends', 'b starts']);
  });

  it('passes on a writer failure to its caller only, and runs the next writer', async () => {
    const queue = new WriteQueue();
    const failed = queue.run(() => Promise.reject(new Error('disk full')));
    const next = queue.run(async () => 'ran');
    expect(await failed.catch((err: Error) => err.message)).to.equal('disk full');
    expect(await next).to.equal('ran');
  });

  it('is idle once every writer queued so far has finished', async () => {
    const queue = new WriteQueue();
    const done: number[] = [];
    void queue.run(async () => {
      done.push(1);
    });
    void queue.run(async () => {
      await turns(2);
      done.push(2);
    });
    await queue.idle();
    expect(done).to.deep.equal([1, 2]);
  });
});
