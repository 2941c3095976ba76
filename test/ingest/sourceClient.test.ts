import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { resetBreakers } from '../../operators/extract/breakers.js';
import { fetchRows, type RowSink } from '../../operators/extract/sourceClient.js';
import { RecordingLogger } from '../helpers/recordingLogger.js';
import { testSettings, useTmpDir } from '../helpers/tmp.js';

const ROWS = [{ id: 'a', n: 1 }, { id: 'b', n: 2 }, { id: 'c', n: 3 }];
const PAGE = JSON.stringify({ data: ROWS, next_cursor: null });

/** A sink keeping each row's text. */
function collectingSink(): RowSink & { rows: string[] } {
  const rows: string[] = [];
  return {
    rows,
    row: (buf, start, end) => void rows.push(Buffer.from(buf.subarray(start, end)).toString('utf8')),
    flush: () => {},
    reset: () => void rows.splice(0),
  };
}

describe('source client', () => {
  let server: http.Server | undefined;
  const tmp = useTmpDir('ingest-client-', {
    beforeRemove: async () => {
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
      server = undefined;
      resetBreakers();
    },
  });
  let requests: string[];

  /** A loopback server answering with `handler`; resolves with its base URL. */
  const serve = async (handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void): Promise<string> => {
    requests = [];
    server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      handler(req, res, requests.length);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const options = (url: string, retries = 0) => ({
    settings: testSettings(tmp.dir, {
      DRIVETRAIN_SOURCE_URL: url,
      DRIVETRAIN_SOURCE_RETRIES: String(retries),
      DRIVETRAIN_SOURCE_RETRY_MIN_TIMEOUT_MS: '5',
      DRIVETRAIN_SOURCE_RETRY_MAX_TIMEOUT_MS: '20',
      DRIVETRAIN_BREAKER_VOLUME_THRESHOLD: '1000',
    }).source,
    signal: new AbortController().signal,
    log: new RecordingLogger(),
  });

  it('follows a redirect, as a FastAPI source sends for a route without its trailing slash', async () => {
    const url = await serve((req, res) => {
      if (req.url === '/cars') res.writeHead(307, { location: '/cars/' }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(PAGE);
    });
    const sink = collectingSink();
    const result = await fetchRows(`${url}/cars`, options(url), sink);
    expect(requests).to.deep.equal(['/cars', '/cars/']);
    expect(result).to.deep.equal({ rows: 3, nextCursor: null });
    expect(sink.rows.map((r) => JSON.parse(r))).to.deep.equal(ROWS);
  });

  it('asks for a compressed body, as fetch did, and reads it', async () => {
    const url = await serve((req, res) => {
      expect(req.headers['accept-encoding']).to.equal('gzip, deflate, br');
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(PAGE));
    });
    const sink = collectingSink();
    const result = await fetchRows(`${url}/v1/cars`, options(url), sink);
    expect(result.rows).to.equal(3);
    expect(sink.rows.map((r) => JSON.parse(r))).to.deep.equal(ROWS);
  });

  it('drains a compressed error body, so the retry reuses the connection', async () => {
    let connections = 0;
    const url = await serve((_req, res, n) => {
      if (n === 1) res.writeHead(503, { 'content-encoding': 'gzip' }).end(gzipSync(randomBytes(800_000)));
      else res.writeHead(200, { 'content-type': 'application/json' }).end(PAGE);
    });
    server!.on('connection', () => connections++);
    const result = await fetchRows(`${url}/v1/cars`, options(url, 1), collectingSink());
    expect(result.rows).to.equal(3);
    expect(requests).to.have.length(2);
    expect(connections).to.equal(1);
  });

  it('fails an attempt whose body claims gzip but is not, naming the request', async () => {
    const url = await serve((_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(PAGE));
    const err = await fetchRows(`${url}/v1/cars`, options(url), collectingSink()).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.equal(`GET ${url}/v1/cars failed after 1 attempts: GET ${url}/v1/cars failed: incorrect header check`);
  });

  it('retries a body cut off mid-stream and keeps only the rows of the attempt that completed', async () => {
    const url = await serve((_req, res, n) => {
      if (n === 1) {
        // Chunked, two rows in, then the connection is dropped without the final chunk.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(PAGE.slice(0, PAGE.indexOf('{"id":"c"')));
        setTimeout(() => res.socket?.destroy(), 20);
      } else res.writeHead(200, { 'content-type': 'application/json' }).end(PAGE);
    });
    const opts = options(url, 2);
    const sink = collectingSink();
    const result = await fetchRows(`${url}/v1/cars`, opts, sink);
    expect(requests).to.have.length(2);
    expect(result.rows).to.equal(3);
    expect(sink.rows).to.have.length(3);
    expect(opts.log.messages('warn')).to.deep.equal([`GET ${url}/v1/cars attempt 1 failed: GET ${url}/v1/cars failed: aborted`]);
  });

  it('fails a refused connection with a message naming the request and the socket error', async () => {
    const url = await serve(() => {});
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    const err = await fetchRows(`${url}/v1/cars`, options(url), collectingSink()).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.equal(`GET ${url}/v1/cars failed after 1 attempts: GET ${url}/v1/cars failed: connect ECONNREFUSED ${url.slice('http://'.length)}`);
  });
});
