/**
 * node dist/bench/store.js [--calls 2000] [--per-request 8]   (after npm run build; PostgreSQL when FSB24_DATABASE_URL
 * is set)
 * What the outbox asks of its store per call, timed on each store: the effects of a call
 * enqueued (register+show, then hide+finish), the pending jobs read before each plan, the CALL_IDs and card
 * histories of the request's calls read (one read each), and the request's jobs marked done with the CALL_IDs
 * they brought (one write). Once with one call per request (unloaded), once with `--per-request` calls per
 * request (a loaded outbox: 40 calls/s through 5 requests/s). Prints the time per call and per operation;
 * PostgreSQL runs in a namespace of its own, forgotten afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Effect } from '../lib/calls/effects.js';
import { PgStore } from '../lib/store/pg.js';
import { SqliteStore } from '../lib/store/sqlite.js';
import type { Store } from '../lib/store/store.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const CALLS = arg('calls', 2000);
const PER_REQUEST = arg('per-request', 8);

function effects(call: string): { ring: Effect[]; end: Effect[] } {
  return {
    ring: [
      {
        kind: 'register',
        call,
        externalCallId: call,
        type: 2,
        extension: '1001',
        phone: '+79161234567',
        line: '4951234567',
        startIso: '2026-01-01T09:00:00+00:00',
        show: true,
        crmCreate: true,
      },
      { kind: 'show', call, extensions: ['1002'] },
    ],
    end: [
      { kind: 'hide', call, extensions: ['1002'] },
      {
        kind: 'finish',
        call,
        direction: 'incoming',
        extension: '1001',
        candidates: [],
        duration: 42,
        status: '200',
        addToChat: true,
      },
    ],
  };
}

async function run(name: string, s: Store, perRequest: number): Promise<void> {
  const spent = new Map<string, number>();
  const timed = async <T>(op: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const out = await f();
    spent.set(op, (spent.get(op) ?? 0) + performance.now() - t0);
    return out;
  };
  const started = performance.now();
  for (let n = 0; n < CALLS; n += perRequest) {
    const calls = Array.from({ length: Math.min(perRequest, CALLS - n) }, (_, k) => `bench-${perRequest}-${n + k}`);
    for (const call of calls) {
      await timed('enqueue', () => s.enqueue(effects(call).ring, Date.now()));
      await timed('enqueue', () => s.enqueue(effects(call).end, Date.now()));
    }
    const jobs = await timed('pending', () => s.pending());
    await timed('callIds', () => s.callIds(calls));
    await timed('cardHistories', () => s.cardHistories(calls));
    const learnt = calls.map((call) => ({ call, b24CallId: `externalCall.${call}`, userId: 11 }));
    const ids = jobs.map((j) => j.id);
    await timed('markDoneAll', () => s.markDoneAll(ids, learnt, Date.now()));
  }
  const total = performance.now() - started;
  const per = [...spent].map(([op, ms]) => `${op} ${((ms / CALLS) * 1000).toFixed(0)} µs`).join(', ');
  console.log(`| ${name} | ${perRequest} | ${CALLS} | ${(total / CALLS).toFixed(2)} ms | ${per} |`);
}

async function both(name: string, s: Store): Promise<void> {
  for (const k of [1, PER_REQUEST]) await run(name, s, k);
}

console.log(
  'per call: 2 enqueues; per request: 1 pending read, 1 CALL_ID read, 1 card history read, ' +
    '1 write of its 4 jobs per call done with their CALL_IDs\n',
);
console.log('| store | calls per request | calls | per call | per operation and call |');
console.log('|---|---|---|---|---|');
const dir = mkdtempSync(join(tmpdir(), 'fsb24-bench-store-'));
const sqlite = new SqliteStore(dir);
await both('sqlite', sqlite);
await sqlite.close();
rmSync(dir, { recursive: true, force: true });
const url = process.env.FSB24_DATABASE_URL;
if (url) {
  const pg = new PgStore(url, `bench-${process.pid}`);
  await both('postgres', pg);
  await pg.purgeFinished(Date.now() + 1);
  await pg.close();
} else console.log('(set FSB24_DATABASE_URL=postgres://… to time PostgreSQL too)');
