/**
 * The `Store` contract's primitives for several instances on one database, run for every
 * implementation (test/helpers/stores.ts): a lease has one holder at a time and goes to the
 * next waiter when released; a signal reaches every listener of its channel and portal.
 * What only PostgreSQL can show (a killed holder, a lost LISTEN connection, migrations
 * racing): ./pg.test.ts.
 */
import t from 'tap';
import { implementations } from '../../helpers/stores.js';

for (const [name, make] of Object.entries(implementations)) {
  t.test(`${name}: a lease has one holder; the next waiter gets it when it is released`, async (t) => {
    const { store: a, reopen } = await make(t);
    const b = await reopen(); // another instance on the same database
    const c = await reopen();
    const held = await a.lease('switch:fs1');
    t.equal(held?.name, 'switch:fs1');
    t.equal(await b.lease('switch:fs1', { wait: false }), null, 'held: not granted to another');
    const other = await b.lease('switch:fs2', { wait: false });
    t.ok(other, 'another name is another lease');
    let granted = false;
    const waiting = b.lease('switch:fs1').then((l) => {
      granted = true;
      return l;
    });
    t.equal(await c.lease('switch:fs1', { wait: false }), null, 'still held while someone waits');
    t.equal(granted, false, 'the waiter waits');
    await held!.release();
    const next = await waiting;
    t.equal(next?.name, 'switch:fs1', 'handed to the waiter');
    t.equal(await a.lease('switch:fs1', { wait: false }), null, 'which holds it now');
    t.equal(held!.lost.aborted, false, 'a release is not a loss');
    await next!.release();
    await other!.release();
    const again = await c.lease('switch:fs1', { wait: false });
    t.ok(again, 'free again once released');
    await again!.release();
    await again!.release(); // twice: nothing more
  });

  t.test(`${name}: a wait given up takes nothing`, async (t) => {
    const { store: a, reopen } = await make(t);
    const b = await reopen();
    const held = await a.lease('portal');
    const stop = new AbortController();
    const waiting = b.lease('portal', { signal: stop.signal });
    stop.abort(new Error('shutting down'));
    await t.rejects(waiting, /shutting down/, 'the wait ends with the reason');
    await held!.release();
    const free = await a.lease('portal', { wait: false });
    t.ok(free, 'nobody took it meanwhile');
    await free!.release();
    await t.rejects(b.lease('portal', { signal: AbortSignal.abort(new Error('too late')) }), /too late/);
  });

  t.test(`${name}: leases of two portals are their own`, async (t) => {
    const { store: a, other } = await make(t);
    const b = await other();
    const la = await a.lease('sender', { wait: false });
    const lb = await b.lease('sender', { wait: false });
    t.ok(la && lb, 'each portal has its own');
    await la!.release();
    await lb!.release();
  });

  t.test(`${name}: a signal reaches every listener of its channel, in order, and nobody else`, async (t) => {
    const { store: a, reopen, other } = await make(t);
    const b = await reopen();
    const stranger = await other();
    const got: string[] = [];
    const all = new Promise<void>((resolve) => {
      const note = (who: string) => (p: string | null) => {
        got.push(`${who} ${p}`);
        if (got.length === 6) resolve();
      };
      void Promise.all([
        a.listen('originate', note('a')),
        b.listen('originate', note('b')),
        b.listen('other-channel', note('b other-channel')),
        stranger.listen('originate', note('stranger')),
      ]).then(async (stops) => {
        t.teardown(() => Promise.all(stops.map((s) => s())));
        await a.notify('originate', 'one');
        await b.notify('originate', 'two');
        await stranger.notify('elsewhere', 'x');
        await a.notify('originate', 'three');
      });
    });
    await all;
    t.same(
      got.filter((g) => g.startsWith('a ')),
      ['a one', 'a two', 'a three'],
      "the sender's own process hears it too, in order",
    );
    t.same(
      got.filter((g) => g.startsWith('b ')),
      ['b one', 'b two', 'b three'],
    );
    await t.rejects(a.notify('originate', 'x'.repeat(7001)), /at most 7000 bytes/);
  });

  t.test(`${name}: a listener stopped hears nothing more`, async (t) => {
    const { store: a } = await make(t);
    const heard: string[] = [];
    const waiters: Array<[number, () => void]> = [];
    const until = (n: number): Promise<void> => new Promise((r) => (heard.length >= n ? r() : waiters.push([n, r])));
    const hear = (who: string) => (p: string | null) => {
      heard.push(`${who} ${p}`);
      for (const [n, r] of waiters) if (heard.length >= n) r();
    };
    const stop = await a.listen('wake', hear('first'));
    const stop2 = await a.listen('wake', hear('second'));
    await a.notify('wake', 'before');
    await until(2);
    await stop();
    await a.notify('wake', 'after');
    await a.notify('wake', 'last');
    await until(4);
    await stop2();
    t.same(heard.sort(), ['first before', 'second after', 'second before', 'second last']);
  });
}
