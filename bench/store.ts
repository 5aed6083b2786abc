/**
 * node dist/bench/store.js [--calls 2000]   (after npm run build; PostgreSQL when FSB24_DATABASE_URL is set)
 * What the outbox asks of its store per call, timed on each store: the effects of a call
 * enqueued (register+show, then hide+finish), the pending jobs read before each plan, its
 * CALL_ID read and written, each job marked done, the card history read before the finish.
 * Prints the time per call and per operation; PostgreSQL runs in a namespace of its own,
 * forgotten afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Effect } from '../lib/calls/effects.js';
import { PgStore } from '../lib/store/pg.js';
import { SqliteStore } from '../lib/store/sqlite.js';
import type { Store } from '../lib/store/store.js';

const i = process.argv.indexOf('--calls');
const CALLS = i >= 0 ? Number(process.argv[i + 1]) : 2000;

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

async function run(name: string, s: Store): Promise<void> {
  const spent = new Map<string, number>();
  const timed = async <T>(op: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const out = await f();
    spent.set(op, (spent.get(op) ?? 0) + performance.now() - t0);
    return out;
  };
  const started = performance.now();
  for (let n = 0; n < CALLS; n++) {
    const call = `bench-${n}`;
    const e = effects(call);
    await timed('enqueue', () => s.enqueue(e.ring, Date.now()));
    await timed('enqueue', () => s.enqueue(e.end, Date.now()));
    const jobs = await timed('pending', () => s.pending());
    await timed('callIds', () => s.callIds([call]));
    await timed('cardHistory', () => s.cardHistory(call));
    await timed('setCallId', () => s.setCallId(call, `externalCall.${n}`, 11, Date.now()));
    for (const j of jobs) await timed('markDone', () => s.markDone(j.id));
  }
  const total = performance.now() - started;
  const per = [...spent].map(([op, ms]) => `${op} ${((ms / CALLS) * 1000).toFixed(0)} µs`).join(', ');
  console.log(`| ${name} | ${CALLS} | ${(total / CALLS).toFixed(2)} ms | ${per} |`);
}

console.log(`per call: 2 enqueues, 1 pending read, 1 CALL_ID read, 1 card history, 1 CALL_ID write, 4 done\n`);
console.log('| store | calls | per call | per operation and call |');
console.log('|---|---|---|---|');
const dir = mkdtempSync(join(tmpdir(), 'fsb24-bench-store-'));
const sqlite = new SqliteStore(dir);
await run('sqlite', sqlite);
await sqlite.close();
rmSync(dir, { recursive: true, force: true });
const url = process.env.FSB24_DATABASE_URL;
if (url) {
  const pg = new PgStore(url, `bench-${process.pid}`);
  await run('postgres', pg);
  await pg.purgeFinished(Date.now() + 1);
  await pg.close();
} else console.log('(set FSB24_DATABASE_URL=postgres://… to time PostgreSQL too)');
