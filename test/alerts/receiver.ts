/**
 * A webhook receiver on loopback for the alert tests: a node:http server that records every POSTed
 * body, answers 500 to the first `failFirst` requests and 200 after, and lets a test wait for what it
 * has received.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AlertPayload } from '../../scheduler/interfaces.js';

/** A running receiver. */
export interface Receiver {
  readonly port: number;
  /** Its URL, with a token-like path as a real webhook's. */
  readonly url: string;
  /** The bodies answered with 200, in arrival order. */
  readonly accepted: AlertPayload[];
  /** Every request received, answered 200 or not. */
  readonly requests: number;
  /** Resolves once `check(accepted)` is true (checked on each request), or rejects after `timeoutMs` naming `what`. */
  waitFor(check: (accepted: readonly AlertPayload[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The path of the receiver's URL: stands for the token in a Slack webhook's path. */
export const WEBHOOK_PATH = '/services/T000/B000/s3cr3t-webhook-token';

/** Starts a receiver on 127.0.0.1 (`port` 0: any free port); with `hang`, it reads each request and never answers. */
export async function startReceiver(opts: { failFirst?: number; port?: number; hang?: boolean } = {}): Promise<Receiver> {
  const accepted: AlertPayload[] = [];
  const waiters = new Set<() => void>();
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests += 1;
      if (opts.hang) {
        for (const w of [...waiters]) w();
        return;
      }
      if (requests <= (opts.failFirst ?? 0)) {
        res.writeHead(500).end('down');
        return;
      }
      accepted.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as AlertPayload);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      for (const w of [...waiters]) w();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}${WEBHOOK_PATH}`,
    accepted,
    get requests() {
      return requests;
    },
    waitFor(check, what, timeoutMs = 30_000) {
      if (check(accepted)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`timed out waiting for ${what}; received: ${JSON.stringify(accepted.map((a) => a.text))}`));
        }, timeoutMs);
        const waiter = (): void => {
          if (!check(accepted)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve();
        };
        waiters.add(waiter);
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on now (bound, then released), for a receiver that comes up later. */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** How many times each `event task` pair arrived: every value must be 1 for "each alert once". */
export function countsByAlert(accepted: readonly AlertPayload[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of accepted) {
    const key = `${a.event} ${a.dag_id}.${a.task_id ?? '-'} ${a.dag_run_id ?? '-'} ${a.try_number ?? '-'}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}
