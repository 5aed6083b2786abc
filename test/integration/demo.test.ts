/** The README's first command: the demo plays its day and the portal's table is what an admin would expect. */
import t from 'tap';
import { runDemo, render } from '../../lib/demo/demo.js';
import { compose } from '../../bin/compose.js';

t.test('demo: eight calls, each as Bitrix24 should show it', async (t) => {
  const lines: string[] = [];
  const { rows, stack } = await runDemo((l) => lines.push(l), { compose });
  t.teardown(() => stack.close());
  t.equal(lines.filter((l) => l.startsWith('  ✓')).length, 8, 'a progress line per scenario');
  t.same(
    rows.map((r) => [r.type, r.client, r.line, r.employee, r.status, r.duration, r.recording, r.cardShownTo]),
    [
      ['incoming', '+79161234567', '4951234567', 'Boris (1002)', '200 answered', '63 s', 'attached', 'Anna, Boris'],
      ['incoming', '+74991112233', '4951234567', 'Anna (1001)', '304 missed', '0 s', 'attached', 'Anna, Boris'],
      ['incoming', '+78122223344', '4957654321', 'Dmitri (1004)', '486 busy', '0 s', '-', 'Dmitri'],
      ['outgoing', '+74957654321', '4951234567', 'Clara (1003)', '200 answered', '31 s', '-', 'Clara'],
      ['outgoing', '+79260000000', '4951234567', 'Anna (1001)', '200 answered', '12 s', 'attached', 'Anna'],
      ['callback', '+79161234567', '4951234567', 'Boris (1002)', '200 answered', '4 s', 'attached', 'Boris'],
      ['incoming', '+79035556677', '4951234567', 'Clara (1003)', '200 answered', '37 s', 'attached', 'Anna, Clara'],
      ['incoming', '+79161234567', '4951234567', 'Boris (1002)', '200 answered', '45 s', 'attached', 'Boris'],
    ],
  );
  t.match(render(rows), /^#\s+type\s+client\s+line\s+employee\s+status\s+duration\s+recording\s+card shown to\n/);
  t.equal((await stack.service.store.stats()).failed, 0);
});

t.test('demo --tenants: two companies on one switch, each call on its own portal', async (t) => {
  const { runTenantsDemo, renderTenants } = await import('../../lib/demo/tenants.js');
  const lines: string[] = [];
  const demo = await runTenantsDemo((l) => lines.push(l), { compose, speed: 0 });
  t.teardown(() => demo.close());
  t.equal(lines.filter((l) => l.startsWith('  ✓')).length, 3, 'a progress line per scenario');
  t.same(
    demo.rows.map((r) => [r.company, r.type, r.client, r.line, r.employee, r.status, r.recording]),
    [
      ['Alpha', 'incoming', '+79161234567', '4951110000', 'Anna', '200', 'attached'],
      ['Alpha', 'outgoing', '+79260000000', '4951110000', 'Artem', '200', 'attached'],
      ['Beta', 'incoming', '+79031112233', '4952220000', 'Bella', '200', 'attached'],
      ['Beta', 'outgoing', '+74957654321', '4952220000', 'Boris', '200', '-'],
    ],
  );
  t.match(renderTenants(demo.rows), /^company\s+portal\s+type/);
  t.equal(
    (await Promise.all(demo.service.portals.map((p) => p.store.stats()))).reduce((n, s) => n + s.failed, 0),
    0,
  );
});
