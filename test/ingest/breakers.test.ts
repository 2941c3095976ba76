import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { breakerFor, circuitOpen, listen, resetBreakers, throughBreaker, type HostBreaker } from '../../operators/extract/breakers.js';
import { CircuitOpenError } from '../../operators/extract/CircuitOpenError.js';
import { fetchRows } from '../../operators/extract/sourceClient.js';
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import { isTaskDeferred } from '../../scheduler/errors/TaskDeferredError.js';
import { breakerStateGauge } from '../../scheduler/metrics.js';
import { RecordingLogger } from '../helpers/recordingLogger.js';
import { testSettings, useTmpDir } from '../helpers/tmp.js';

/** Breaker settings: opens at the second failure of two or more calls, half-opens after `resetTimeoutMs`. */
const SETTINGS = { errorThresholdPercentage: 50, volumeThreshold: 2, rollingCountTimeoutMs: 60_000, resetTimeoutMs: 60_000 };
const countsAll = () => false;
const fail = (message = 'connection refused') => () => Promise.reject(new Error(message));
const gauge = async (host: string) => (await breakerStateGauge.get()).values.find((v) => v.labels.host === host)?.value;
/** What a call settles to: its value, or the error it rejected with. */
const settle = <T>(p: Promise<T>): Promise<T | Error> => p.catch((e: Error) => e);
/** Resolves at the breaker's next `event` (opossum's names: open, halfOpen, close). */
const next = (hb: HostBreaker, event: 'open' | 'halfOpen' | 'close') => new Promise<void>((resolve) => hb.breaker.once(event, () => resolve()));

describe('circuit breakers', () => {
  const tmp = useTmpDir('breakers-', { beforeRemove: () => resetBreakers() });

  it('gives every task of the process the same breaker for a host, and another host its own', () => {
    const a = breakerFor('a.example:1', SETTINGS, countsAll);
    expect(breakerFor('a.example:1', { ...SETTINGS, volumeThreshold: 99 }, countsAll)).to.equal(a);
    expect(breakerFor('b.example:1', SETTINGS, countsAll)).to.not.equal(a);
    expect(a).to.include({ host: 'a.example:1', resetTimeoutMs: 60_000, openedAt: undefined, origin: 'http://a.example:1' });
  });

  it('opens at the volume and rate thresholds, tells every listening task, and then fails fast without calling', async () => {
    const hb = breakerFor('down.example:1', { ...SETTINGS, volumeThreshold: 3 }, countsAll);
    const log = new RecordingLogger();
    listen(hb, log);
    expect(await gauge('down.example:1')).to.equal(0);
    await settle(throughBreaker(hb, fail()));
    await settle(throughBreaker(hb, fail()));
    expect(hb.openedAt, 'two calls are under the volume threshold of three').to.equal(undefined);
    const third = await settle(throughBreaker(hb, fail('third')));
    expect((third as Error).message).to.equal('third');
    expect(hb.openedAt).to.be.instanceOf(Date);
    const until = new Date(hb.openedAt!.getTime() + 60_000);
    const [opened] = log.find('circuit breaker for down.example:1 opened', 'warn');
    expect(opened.message).to.equal(`circuit breaker for down.example:1 opened: failing fast until ${until.toISOString()}`);
    expect(opened.meta).to.deep.equal({ host: 'down.example:1', state: 'open', until: until.toISOString() });
    expect(await gauge('down.example:1')).to.equal(2);

    let called = false;
    const fast = await settle(throughBreaker(hb, async () => void (called = true)));
    expect(called).to.equal(false);
    expect(fast).to.be.instanceOf(CircuitOpenError);
    expect(fast).to.include({ host: 'down.example:1' });
    expect((fast as CircuitOpenError).until.getTime()).to.equal(until.getTime());
  });

  it('stays closed while failures stay under the error rate', async () => {
    const hb = breakerFor('flaky.example:1', { ...SETTINGS, errorThresholdPercentage: 60 }, countsAll);
    for (let i = 0; i < 3; i++) {
      expect(await throughBreaker(hb, async () => i)).to.equal(i);
      await settle(throughBreaker(hb, fail()));
    }
    expect(hb.openedAt).to.equal(undefined);
    expect(await gauge('flaky.example:1')).to.equal(0);
  });

  it('does not count the failures its filter ignores, and hands them on as they are', async () => {
    const notFound = new Error('404');
    const hb = breakerFor('picky.example:1', SETTINGS, (err) => err === notFound);
    for (let i = 0; i < 5; i++) expect(await settle(throughBreaker(hb, () => Promise.reject(notFound)))).to.equal(notFound);
    expect(hb.openedAt).to.equal(undefined);
    expect(hb.breaker.stats.failures).to.equal(0);
    await settle(throughBreaker(hb, fail()));
    expect(hb.breaker.stats.failures).to.equal(1);
  });

  it('half-opens after the reset timeout, lets one trial through, and closes when it succeeds', async () => {
    const hb = breakerFor('back.example:1', { ...SETTINGS, resetTimeoutMs: 50 }, countsAll);
    const log = new RecordingLogger();
    listen(hb, log);
    await settle(throughBreaker(hb, fail()));
    await settle(throughBreaker(hb, fail()));
    const halfOpen = await log.waitFor('half-open', 'info');
    expect(halfOpen.message).to.equal('circuit breaker for back.example:1 half-open: letting a trial request through');
    expect(halfOpen.meta).to.deep.equal({ host: 'back.example:1', state: 'half_open' });
    expect(await gauge('back.example:1')).to.equal(1);
    expect(await throughBreaker(hb, async () => 'ok')).to.equal('ok');
    const [closed] = log.find('closed', 'info');
    expect(closed.message).to.equal('circuit breaker for back.example:1 closed: the source answers again');
    expect(closed.meta).to.deep.equal({ host: 'back.example:1', state: 'closed' });
    expect(hb.openedAt).to.equal(undefined);
    expect(await gauge('back.example:1')).to.equal(0);
  });

  it('keeps the last ten state changes seen while no task listened, and tells them to the next task once, in order', async () => {
    const hb = breakerFor('quiet.example:1', { ...SETTINGS, resetTimeoutMs: 20 }, countsAll);
    // Twelve changes with nobody listening: opened, half-open (on its timer), opened again by a failed trial, ...
    await settle(throughBreaker(hb, fail()));
    for (let i = 0; i < 6; i++) {
      await settle(throughBreaker(hb, fail()));
      await new Promise<void>((resolve) => hb.breaker.once('halfOpen', () => resolve()));
    }
    const told = hb.pending.map((p) => `${p.level} ${p.message.split(':')[0]}`);
    expect(told).to.deep.equal(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'warn circuit breaker for quiet.example' : 'info circuit breaker for quiet.example')));
    expect(hb.pending[0].message).to.contain('opened');
    expect(hb.pending[1].message).to.contain('half-open');
    const watcher = new RecordingLogger();
    listen(hb, watcher);
    expect(watcher.lines.map((l) => `${l.level} ${l.message.split(':')[0]}`)).to.deep.equal(told);
    expect(hb.pending).to.deep.equal([]);
    const late = new RecordingLogger();
    listen(hb, late);
    expect(late.lines, 'already told').to.deep.equal([]);
    // A change now goes to both listeners, and is not kept for later.
    await settle(throughBreaker(hb, fail()));
    expect(watcher.has('opened', 'warn') && late.has('opened', 'warn')).to.equal(true);
    expect(hb.pending).to.deep.equal([]);
  });

  it('forgets every breaker on reset, so the next call gets a closed one', async () => {
    const hb = breakerFor('gone.example:1', SETTINGS, countsAll);
    await settle(throughBreaker(hb, fail()));
    await settle(throughBreaker(hb, fail()));
    expect(hb.openedAt).to.be.instanceOf(Date);
    resetBreakers();
    const fresh = breakerFor('gone.example:1', SETTINGS, countsAll);
    expect(fresh).to.not.equal(hb);
    expect(fresh.openedAt).to.equal(undefined);
  });

  describe('as a deferral (CircuitOpenError)', () => {
    it('defers a task until the breaker may half-open, naming the source and when it opened', async () => {
      const hb = breakerFor('late.example:1', SETTINGS, countsAll, 'http://late.example:1');
      await settle(throughBreaker(hb, fail()));
      await settle(throughBreaker(hb, fail()));
      const opened = hb.openedAt!.getTime();
      const err = circuitOpen(hb);
      expect(isTaskDeferred(err)).to.equal(true);
      expect(err.notBefore.getTime()).to.equal(opened + 60_000);
      expect(err.since.getTime()).to.equal(opened);
      expect(err.reason).to.equal(`source http://late.example:1 unreachable: circuit breaker open since ${new Date(opened).toISOString()}`);
      expect(err).to.not.have.property('cause');
      const failure = new Error('503');
      expect(circuitOpen(hb, failure).cause).to.equal(failure);
    });

    it('tells a task that meets the half-open breaker, its trial still out, to come back within the reset time, not at a time already past', async () => {
      const hb = breakerFor('trial.example:1', { ...SETTINGS, resetTimeoutMs: 50 }, countsAll);
      await settle(throughBreaker(hb, fail()));
      const halfOpen = next(hb, 'halfOpen');
      await settle(throughBreaker(hb, fail()));
      const opened = hb.openedAt!.getTime();
      await halfOpen;
      // The trial request hangs until the test lets it go; meanwhile every other call is refused.
      let answer!: () => void;
      const trial = throughBreaker(hb, () => new Promise<void>((resolve) => (answer = resolve)));
      const before = Date.now();
      const refused = await settle(throughBreaker(hb, async () => 'never called'));
      const after = Date.now();
      expect(refused).to.be.instanceOf(CircuitOpenError);
      const notBefore = (refused as CircuitOpenError).notBefore.getTime();
      // Not the half-open time itself (opened + 50 ms), which has passed: now plus the reset time.
      expect(notBefore).to.be.above(opened + 50);
      expect(notBefore).to.be.within(before + 50, after + 50);
      answer();
      await trial;
      expect(hb.openedAt).to.equal(undefined);
    });

    it('tells a task that meets the breaker at the very millisecond its reset is due to come back within the trial wait, not at once', async () => {
      const hb = breakerFor('due.example:1', SETTINGS, countsAll);
      await settle(throughBreaker(hb, fail()));
      await settle(throughBreaker(hb, fail()));
      // The breaker's opening moved back so the reset falls due now, in a millisecond the call does not leave.
      let now: number;
      let err: CircuitOpenError;
      do {
        now = Date.now();
        hb.openedAt = new Date(now - 60_000);
        err = circuitOpen(hb);
      } while (Date.now() !== now);
      // opossum half-opens on its own timer, which has not fired yet: the trial decides within a second.
      expect(err.notBefore.getTime()).to.equal(now + 1000);
    });

    it('dates an outage from its first opening through failed trials, and a new outage after a close from its own', async () => {
      const hb = breakerFor('again.example:1', { ...SETTINGS, resetTimeoutMs: 30 }, countsAll);
      await settle(throughBreaker(hb, fail()));
      await settle(throughBreaker(hb, fail()));
      const first = hb.openedAt!.getTime();
      // The trial fails: opened again, the outage goes on.
      await next(hb, 'halfOpen');
      const reopened = next(hb, 'open');
      await settle(throughBreaker(hb, fail()));
      await reopened;
      // 30 ms later by the timer's clock; Date.now() counts whole milliseconds of another clock, so it may read 29.
      expect(hb.openedAt!.getTime()).to.be.at.least(first + 29);
      expect(circuitOpen(hb).since.getTime()).to.equal(first);
      // The next trial succeeds: closed. The next opening starts a new outage.
      await next(hb, 'halfOpen');
      expect(await throughBreaker(hb, async () => 'ok')).to.equal('ok');
      const second = next(hb, 'open');
      await settle(throughBreaker(hb, fail()));
      await settle(throughBreaker(hb, fail()));
      await second;
      const since = circuitOpen(hb).since.getTime();
      expect(since).to.equal(hb.openedAt!.getTime());
      expect(since).to.be.above(first);
    });
  });

  describe('on a source', () => {
    let server: http.Server | undefined;
    afterEach(async () => {
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
      server = undefined;
    });

    it('never opens on 4xx answers: they say the request was wrong, not that the host is down', async () => {
      let requests = 0;
      server = http.createServer((_req, res) => {
        requests += 1;
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Not Found"}');
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const settings = testSettings(tmp.dir, {
        DRIVETRAIN_SOURCE_URL: url,
        DRIVETRAIN_SOURCE_RETRIES: '0',
        DRIVETRAIN_BREAKER_VOLUME_THRESHOLD: '2',
        DRIVETRAIN_BREAKER_ERROR_THRESHOLD_PCT: '50',
      }).source;
      const log = new RecordingLogger();
      const sink = { row: () => undefined, flush: () => undefined, reset: () => undefined };
      for (let i = 1; i <= 5; i++) {
        const err = await settle(fetchRows(`${url}/cars/`, { settings, signal: new AbortController().signal, log }, sink));
        expect(err, `call ${i}`).to.be.instanceOf(NonRetryableError);
        expect(requests, `call ${i} reached the source`).to.equal(i);
      }
      expect(log.has('opened')).to.equal(false);
    });
  });
});
