import { expect } from 'chai';
import { TurnQueue } from '../../operators/warehouse/TurnQueue.js';

/** Lets every pending promise callback and I/O callback run. */
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Work that starts when its turn comes and ends when the test says so. */
function held(queue: TurnQueue, name: string, log: string[]): { done: Promise<void>; finish: () => void } {
  let finish!: () => void;
  const released = new Promise<void>((resolve) => (finish = resolve));
  const done = queue.run(async () => {
    log.push(`${name} starts`);
    await released;
    log.push(`${name} ends`);
  });
  return { done, finish };
}

describe('turn queue', () => {
  it('runs two at a time, each in the order asked, the next starting when one finishes', async () => {
    const queue = new TurnQueue(2);
    const log: string[] = [];
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => held(queue, name, log));
    await turns(5);
    expect(log).to.deep.equal(['a starts', 'b starts']);
    b.finish();
    await turns(5);
    expect(log).to.deep.equal(['a starts', 'b starts', 'b ends', 'c starts']);
    a.finish();
    c.finish();
    d.finish();
    await Promise.all([a.done, b.done, c.done, d.done]);
    expect(log.filter((l) => l.endsWith('starts'))).to.deep.equal(['a starts', 'b starts', 'c starts', 'd starts']);
  });

  it('passes on a failure to its caller only, a rejection or a throw, and gives the turn to the next', async () => {
    const queue = new TurnQueue(1);
    const failed = queue.run(() => Promise.reject(new Error('disk full')));
    const thrown = queue.run((): Promise<string> => {
      throw new Error('bad statement');
    });
    const next = queue.run(async () => 'ran');
    expect(await failed.catch((err: Error) => err.message)).to.equal('disk full');
    expect(await thrown.catch((err: Error) => err.message)).to.equal('bad statement');
    expect(await next).to.equal('ran');
  });

  it('refuses a width that is not a positive integer, quoting it', () => {
    expect(() => new TurnQueue(0)).to.throw(RangeError, "TurnQueue width '0' is not a positive integer");
    expect(() => new TurnQueue(1.5)).to.throw(RangeError, "TurnQueue width '1.5' is not a positive integer");
  });
});

describe('turn queue of width 1 (the warehouse writers)', () => {
  it('starts a writer only after the one before it has finished, in the order they asked', async () => {
    const queue = new TurnQueue(1);
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
    const queue = new TurnQueue(1);
    const failed = queue.run(() => Promise.reject(new Error('disk full')));
    const next = queue.run(async () => 'ran');
    expect(await failed.catch((err: Error) => err.message)).to.equal('disk full');
    expect(await next).to.equal('ran');
  });

  it('is idle once every writer queued so far has finished', async () => {
    const queue = new TurnQueue(1);
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
