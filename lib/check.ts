/**
 * freeswitch-bitrix24 check: each point of a real setup, passed or failed with the fix.
 */
import { request } from 'undici';
import { loadConfig, type ConfigShape } from './config.js';
import { openStore, type Store } from './store/index.js';
import { Bitrix24Client } from './bitrix24/client.js';
import { RateLimiter } from './bitrix24/limiter.js';
import { UserDirectory } from './bitrix24/directory.js';
import { boundHandlers, CALL_EVENTS, configuredLines } from './bitrix24/provision.js';
import { createLogger } from './log.js';
import { checkOffline } from './offline/check.js';
import { Tenants, portalConfig, portalStoreAt } from './tenancy/tenants.js';
import {
  checkDatabase,
  checkLeases,
  checkPublicUrl,
  checkSwitches,
  OUTAGE_FIX,
  tokenFix,
  type CheckResult,
  type LeaseToCheck,
} from './check-parts.js';
import { PORTAL_LEASE, REFRESH_LEASE, SWITCH_LEASE } from './cluster/messages.js';
import { checkCdr } from './cdr/check.js';

export { tokenFix, type CheckResult } from './check-parts.js';

export async function runCheck(
  o: { file?: string; env?: Record<string, string | undefined>; overrides?: Record<string, unknown> },
  out: (line: string) => void,
): Promise<number> {
  const results = await check(o);
  for (const r of results) {
    out(`${!r.ok ? 'FAIL' : r.warn ? 'WARN' : 'PASS'}  ${r.name}: ${r.detail}`);
    if ((!r.ok || r.warn) && r.fix) out(`      fix: ${r.fix}`);
  }
  const failed = results.filter((r) => !r.ok).length;
  out(failed === 0 ? 'all checks passed' : `${failed} check(s) failed`);
  return failed === 0 ? 0 : 1;
}

export async function check(o: {
  file?: string;
  env?: Record<string, string | undefined>;
  overrides?: Record<string, unknown>;
}): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add = (r: CheckResult): void => {
    results.push(r);
  };
  let c: Readonly<ConfigShape>;
  try {
    c = loadConfig({
      ...(o.file ? { file: o.file } : {}),
      env: o.env ?? {},
      ...(o.overrides ? { overrides: o.overrides } : {}),
    });
    add({ name: 'configuration', ok: true, detail: 'valid' });
  } catch (err) {
    add({
      name: 'configuration',
      ok: false,
      detail: (err as Error).message,
      fix: 'correct the key named above (file or FSB24_* variable)',
    });
    return results;
  }
  const phones = await checkSwitches(c, add);
  await checkCdr(c, add);
  if (!(await checkDatabase(c, add))) {
    const detail = 'not checked: the portals are checked with what the database holds (tokens)';
    add({ name: 'portal', ok: false, detail, fix: 'fix the database first (above)' });
    return results;
  }
  const log = createLogger('silent');
  // each portal of the tenant map on its own (FSB24_B24_PORTAL_URL alone: the one portal, unnamed)
  const tenants = new Tenants(c);
  await checkLeases(c, leasesOf(c, tenants), add);
  for (const t of tenants.list) {
    const pc = portalConfig(c, t, tenants.single);
    // check reads the store, it never migrates it (checkDatabase said whether it is current)
    const store = openStore(c, portalStoreAt(c, t, tenants.single), { migrate: false });
    const client = new Bitrix24Client({
      mode: c.b24.webhookUrl ? 'webhook' : 'oauth',
      webhookUrl: c.b24.webhookUrl,
      oauthUrl: c.b24.oauthUrl,
      clientId: c.b24.clientId,
      clientSecret: c.b24.clientSecret,
      store,
      limiter: new RateLimiter(c.b24.rateBurst, c.b24.rateDrainPerSec),
      timeoutMs: Math.min(c.b24.requestTimeoutMs, 10_000),
      log,
    });
    const named = tenants.single ? add : (r: CheckResult): void => add({ ...r, name: `${t.host}: ${r.name}` });
    try {
      // a portal's phones are those in its domain (FSB24_TENANTS, FSB24_DOMAIN), else every one
      const domain = pc.calls.domain.toLowerCase();
      const registered = phones && [
        ...new Set(phones.filter((p) => !domain || p.domain === domain).map((p) => p.user)),
      ];
      await checkPortal(pc, store, client, named, registered);
    } finally {
      await client.close();
      await store.close();
    }
  }
  return results;
}

/** The leases instances on one database take (bin/cluster.ts): each switch's, each portal's, its token refresh's. */
function leasesOf(c: Readonly<ConfigShape>, tenants: Tenants): LeaseToCheck[] {
  return [
    ...c.switches.map((s) => ({ name: SWITCH_LEASE(s.name), unheld: 'nobody listens to this switch' })),
    ...tenants.list.flatMap((t) => [
      { name: PORTAL_LEASE(t.host), unheld: 'nothing is sent to this portal' },
      { name: REFRESH_LEASE(t.host), transient: true, unheld: 'taken only while a token is refreshed' },
    ]),
  ];
}

/** freeswitch-bitrix24 tenants: each portal, what of the switch is its, and its state (from the store). */
export async function tenantsReport(c: Readonly<ConfigShape>): Promise<string[]> {
  const tenants = new Tenants(c);
  const out: string[] = [];
  if (tenants.single) out.push('no FSB24_TENANTS: one portal (FSB24_B24_PORTAL_URL), every call is its');
  for (const t of tenants.list) {
    const store = openStore(c, portalStoreAt(c, t, tenants.single), { migrate: false });
    try {
      const tokens = await store.tokens();
      const s = await store.stats();
      const state = c.b24.webhookUrl ? 'webhook' : tokens ? `installed (member ${tokens.memberId})` : 'not installed';
      out.push(`${t.url || '(no portal configured)'}: ${state}; outbox ${s.pending} pending, ${s.failed} failed`);
      if (!tenants.single) {
        const list = (l: readonly string[]): string => (l.length > 0 ? l.join(', ') : '—');
        out.push(`  domains: ${list(t.domains)}`, `  lines: ${list(t.lines)}`, `  gateways: ${list(t.gateways)}`);
      }
    } finally {
      await store.close();
    }
  }
  return out;
}

async function checkPortal(
  c: Readonly<ConfigShape>,
  store: Store,
  client: Bitrix24Client,
  add: (r: CheckResult) => void,
  registered: string[] | null,
): Promise<void> {
  const base = c.b24.webhookUrl || c.b24.portalUrl;
  if (!base) {
    add({
      name: 'portal',
      ok: false,
      detail: 'no portal configured',
      fix: 'set FSB24_B24_PORTAL_URL (and the application) or FSB24_B24_WEBHOOK_URL',
    });
    return;
  }
  try {
    const res = await request(new URL('/', base), { method: 'GET', headersTimeout: 10_000, bodyTimeout: 10_000 });
    await res.body.dump();
    const host = new URL(base).host;
    if (res.statusCode >= 500) {
      const detail = `${host} answered HTTP ${res.statusCode}: the portal is down or overloaded`;
      add({ name: 'portal reachable', ok: false, detail, fix: OUTAGE_FIX });
      return;
    }
    add({ name: 'portal reachable', ok: true, detail: `${host} answered HTTP ${res.statusCode}` });
  } catch (err) {
    // a connection reset or no reply in time is the portal failing; no connection at all is more likely the address
    const code = (err as { code?: string }).code ?? '';
    const outage = ['ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'EPIPE'];
    const fix = outage.includes(code) ? OUTAGE_FIX : 'check DNS, the firewall and the portal address';
    add({ name: 'portal reachable', ok: false, detail: (err as Error).message, fix });
    return;
  }
  const tokens = await store.tokens();
  if (client.mode === 'oauth' && !tokens) {
    add({
      name: 'application installed',
      ok: false,
      detail: 'no tokens stored',
      fix:
        'start the service, then install the local application on the portal ' +
        '(its handler is FSB24_PUBLIC_URL/bitrix24/events)',
    });
    return;
  }
  try {
    await client.call('app.info');
    const until = (await client.tokens())?.expiresAt;
    add({
      name: 'token',
      ok: true,
      detail:
        client.mode === 'oauth'
          ? `valid until ${until ? new Date(until).toISOString() : 'unknown'}`
          : 'webhook accepted',
    });
  } catch (err) {
    add({ name: 'token', ok: false, detail: (err as Error).message, fix: tokenFix(err, client.mode) });
    return;
  }
  try {
    const scope = await client.call<string[] | string>('scope');
    const list = Array.isArray(scope) ? scope : String(scope).split(',');
    const missing = ['telephony', 'user'].filter((s) => !list.includes(s));
    add(
      missing.length === 0
        ? { name: 'scopes', ok: true, detail: list.join(', ') }
        : {
            name: 'scopes',
            ok: false,
            detail: `missing ${missing.join(', ')}`,
            fix: 'add the scopes to the application (or webhook) and reinstall it',
          },
    );
  } catch (err) {
    add({ name: 'scopes', ok: false, detail: (err as Error).message });
  }
  if (client.mode === 'oauth' || c.recordings.mode === 'url') await checkPublicUrl(c, add);
  if (client.mode === 'oauth') {
    const handler = new URL('/bitrix24/events', c.publicUrl || 'http://unset.invalid').href;
    if (c.events.mode === 'offline') await checkOffline(c, store, client, add);
    else
      try {
        const bound = (await boundHandlers(client)).filter((b) => (CALL_EVENTS as readonly string[]).includes(b.event));
        const missing = CALL_EVENTS.filter((e) => !bound.some((b) => b.event === e && b.handler === handler));
        const stale = bound.filter((b) => b.handler !== handler);
        const fix = c.publicUrl
          ? 'run freeswitch-bitrix24 bind (it replaces handlers at an old address)'
          : 'set FSB24_PUBLIC_URL, then run freeswitch-bitrix24 bind';
        const elsewhere = [...new Set(stale.map((b) => b.handler))].join(', ');
        const name = 'event handlers';
        if (missing.length > 0) add({ name, ok: false, detail: `${missing.join(', ')} not bound to ${handler}`, fix });
        else if (stale.length > 0)
          add({ name, ok: false, detail: `also bound to ${elsewhere} (events go there)`, fix });
        else add({ name, ok: true, detail: `bound to ${handler}` });
      } catch (err) {
        add({ name: 'event handlers', ok: false, detail: (err as Error).message });
      }
    const wanted = configuredLines(c);
    try {
      const lines = await client.call<Array<{ NUMBER: string }>>('telephony.externalLine.get');
      const missing = wanted.filter((n) => !lines.some((l) => l.NUMBER === n));
      add(
        missing.length === 0
          ? { name: 'lines', ok: true, detail: `${lines.length} registered` }
          : {
              name: 'lines',
              ok: false,
              detail: `not registered: ${missing.join(', ')}`,
              fix: 'run freeswitch-bitrix24 bind',
            },
      );
    } catch (err) {
      add({ name: 'lines', ok: false, detail: (err as Error).message });
    }
  }
  const dir = new UserDirectory(client, createLogger('silent'));
  if (await dir.refresh()) {
    add(
      dir.size > 0
        ? { name: 'users with an extension', ok: true, detail: `${dir.size}` }
        : {
            name: 'users with an extension',
            ok: false,
            detail: 'none',
            fix: "fill in each employee's Internal phone (UF_PHONE_INNER)",
          },
    );
  } else {
    add({
      name: 'users with an extension',
      ok: false,
      detail: dir.lastError ?? 'user.get failed',
      fix: 'the application needs the user scope',
    });
    return;
  }
  if (registered) {
    const orphans = registered.filter((ext) => dir.userFor(ext) === null);
    add(
      orphans.length === 0
        ? { name: 'registered phones map to users', ok: true, detail: `all ${registered.length}` }
        : {
            name: 'registered phones map to users',
            ok: false,
            detail: `no Bitrix24 user has extension ${orphans.join(', ')}`,
            fix:
              `set Internal phone (UF_PHONE_INNER) on those users; ` +
              `their calls go to user ${c.calls.defaultUserId} meanwhile`,
          },
    );
  }
}
