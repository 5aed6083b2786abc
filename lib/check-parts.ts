/**
 * Points of `freeswitch-bitrix24 check` that stand alone: each switch's event socket and
 * the callback context on it, what a token failure means, FSB24_PUBLIC_URL as Bitrix24
 * reaches it, and the database of FSB24_DATABASE_URL with the leases of the instances on it.
 */
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { isEslSwitch, type ConfigShape } from './config.js';
import { EslClient } from './esl/client.js';
import { EslError } from './esl/errors.js';
import { parseRows } from './esl/listener.js';
import { B24Error } from './bitrix24/errors.js';
import { callbackUsesContext } from './originate/build.js';
import { inspectDatabase, leaseStates, storeLabel } from './store/index.js';

/**
 * The callback context, only when callbacks have something to say (TTS or a prompt): without
 * it every such callback ends 404 once the employee answers. `xml_locate` prints the context's
 * XML, or `can't find anything` (fixtures/esl/xml-locate.*).
 */
export async function checkCallbackContext(
  esl: EslClient,
  c: Readonly<ConfigShape>,
  add: (r: CheckResult) => void,
): Promise<void> {
  if (!callbackUsesContext({ ttsEngine: c.calls.ttsEngine || null, promptFile: c.calls.promptFile || null })) return;
  const name = c.calls.callbackContext;
  const check = 'callback context';
  const fail = (detail: string, fix: string): void => add({ name: check, ok: false, detail, fix });
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    fail(`"${name}" is not a context name`, 'FSB24_CALLBACK_CONTEXT: letters, digits, _ . -');
    return;
  }
  const fix =
    "copy conf/freeswitch/dialplan/freeswitch-bitrix24-context.xml to FreeSWITCH's " +
    `dialplan/${name}.xml (context "${name}"), then fs_cli -x reloadxml; ` +
    'or leave FSB24_TTS_ENGINE and FSB24_CALLBACK_PROMPT empty to bridge callbacks without it';
  try {
    const xml = (await esl.api(`xml_locate dialplan context name ${name}`)).trim();
    if (!xml.startsWith('<context')) {
      fail(`"${name}" is not loaded (xml_locate: ${xml.split('\n')[0]}); callbacks would end 404`, fix);
    } else if (!/<extension name="b24_callback"/.test(xml)) {
      fail(`"${name}" is loaded but has no b24_callback extension`, fix);
    } else {
      add({ name: check, ok: true, detail: `"${name}" is loaded` });
    }
  } catch (err) {
    fail(`xml_locate failed: ${(err as Error).message}`, 'is mod_commands loaded?');
  }
}

export interface CheckResult {
  name: string;
  ok: boolean;
  /** Passes, but worth fixing (printed as WARN). */
  warn?: boolean;
  detail: string;
  fix?: string;
}

export const OUTAGE_FIX = 'the portal is unreachable or failing: retry later (the service keeps calls in its outbox)';

/** Reinstalling is the fix only for a spent token (after a refresh); an outage is retried. */
export function tokenFix(err: unknown, mode: 'oauth' | 'webhook'): string {
  if (!(err instanceof B24Error)) return OUTAGE_FIX;
  const spent = err.detail.error === 'invalid_grant' || err.detail.error === 'expired_token';
  if (spent) return 'reinstall the application (the refresh token is spent or revoked)';
  const outage = ['B24_ERR_NETWORK', 'B24_ERR_TIMEOUT', 'B24_ERR_RATE_LIMIT'].includes(err.code);
  if (outage || (err.detail.status ?? 0) >= 500) return OUTAGE_FIX;
  if (mode === 'webhook') return 'the webhook URL is wrong, expired or deleted';
  return 'check FSB24_B24_CLIENT_ID / FSB24_B24_CLIENT_SECRET and the portal address (the portal refused the token)';
}

/** FSB24_PUBLIC_URL as Bitrix24 uses it: this service answers there, over HTTPS. */
export async function checkPublicUrl(c: Readonly<ConfigShape>, add: (r: CheckResult) => void): Promise<void> {
  if (!c.publicUrl) {
    const fix = 'set it to the HTTPS address Bitrix24 reaches this service at (conf/nginx-bitrix24.conf)';
    add({ name: 'public URL', ok: false, detail: 'FSB24_PUBLIC_URL is not set', fix });
    return;
  }
  const health = new URL('/healthz', c.publicUrl).href;
  try {
    const res = await request(health, { method: 'GET', headersTimeout: 10_000, bodyTimeout: 10_000 });
    const body = (await res.body.json().catch(() => null)) as Record<string, unknown> | null;
    // /healthz answers 200 or 503 (degraded): either proves it is this service
    if (!body || typeof body !== 'object' || !('eventSocket' in body) || !('outbox' in body)) {
      const detail = `${health} answered HTTP ${res.statusCode}, not this service's health`;
      add({ name: 'public URL', ok: false, detail, fix: 'point the reverse proxy at FSB24_HTTP_HOST:FSB24_HTTP_PORT' });
      return;
    }
  } catch (err) {
    const fix = 'FSB24_PUBLIC_URL must reach this service (DNS, firewall, reverse proxy)';
    add({ name: 'public URL', ok: false, detail: `${health}: ${(err as Error).message}`, fix });
    return;
  }
  if (new URL(c.publicUrl).protocol === 'http:' && c.events.mode !== 'offline') {
    const fix = 'serve it over HTTPS (conf/nginx-bitrix24.conf): tokens travel in every event';
    add({ name: 'public URL', ok: true, warn: true, detail: `${health} answers, but over plain http`, fix });
  } else {
    add({ name: 'public URL', ok: true, detail: `${health} answers (checked from this host)` });
  }
}

/** A registered phone: its user and the domain (realm) it registered in. */
export interface RegisteredPhone {
  user: string;
  domain: string;
}

/**
 * Each switch of FSB24_SWITCHES (or the one of FSB24_ESL_*): reachable with its password,
 * events arriving, calls live, phones registered, the callback context. Several switches:
 * each point is prefixed with the switch's name. Returns the phones registered on the
 * switches that answered (for the mapping check), or null when none did.
 */
export async function checkSwitches(
  c: Readonly<ConfigShape>,
  add: (r: CheckResult) => void,
): Promise<RegisteredPhone[] | null> {
  let phones: RegisteredPhone[] | null = null;
  for (const s of c.switches) {
    const named = c.switches.length === 1 ? add : (r: CheckResult): void => add({ ...r, name: `${s.name}: ${r.name}` });
    const found = await checkSwitch(c, s, named);
    if (found) phones = [...(phones ?? []), ...found];
  }
  return phones;
}

async function checkSwitch(
  c: Readonly<ConfigShape>,
  s: ConfigShape['switches'][number],
  add: (r: CheckResult) => void,
): Promise<RegisteredPhone[] | null> {
  const single = isEslSwitch(c, s.name);
  const esl = new EslClient({ host: s.host, port: s.port, password: s.password, timeoutMs: 5000, jobTimeoutMs: 5000 });
  const where = `${s.host}:${s.port}`;
  try {
    await esl.connect();
  } catch (err) {
    const auth = err instanceof EslError && err.code === 'ESL_ERR_AUTH';
    const fix = auth
      ? single
        ? 'FSB24_ESL_PASSWORD must equal the password in event_socket.conf.xml'
        : `its "password" in FSB24_SWITCHES must equal the password in event_socket.conf.xml`
      : single
        ? 'is mod_event_socket loaded and listening there (FSB24_ESL_HOST / FSB24_ESL_PORT)?'
        : `is mod_event_socket loaded and listening there (its "host" and "port" in FSB24_SWITCHES)?`;
    add({ name: 'event socket', ok: false, detail: `${where}: ${(err as Error).message}`, fix });
    esl.close();
    return null;
  }
  let live = '';
  try {
    live = `; ${parseRows(await esl.api('show calls as json')).length} calls live`;
  } catch {
    // the commands are checked next
  }
  add({ name: 'event socket', ok: true, detail: `${where} reachable, password accepted${live}` });
  try {
    await esl.subscribe(['BACKGROUND_JOB', 'CHANNEL_CREATE']);
    const job = await esl.bgapi('status', randomUUID());
    // any BACKGROUND_JOB event proves delivery; the deadline gives a lost job
    add(
      !job.lost
        ? { name: 'events arriving', ok: true, detail: 'a background job event came back' }
        : {
            name: 'events arriving',
            ok: false,
            detail: job.lost.message,
            fix: 'check that nothing filters events on this connection',
          },
    );
    const body = JSON.parse(await esl.api('show registrations as json')) as {
      rows?: Array<{ reg_user?: unknown; realm?: unknown }>;
    };
    const phones = (body.rows ?? [])
      .map((r) => ({ user: String(r.reg_user ?? ''), domain: String(r.realm ?? '').toLowerCase() }))
      .filter((p) => p.user !== '');
    add({ name: 'registered phones', ok: true, detail: `${phones.length} registered` });
    await checkCallbackContext(esl, c, add);
    return phones;
  } catch (err) {
    add({
      name: 'events arriving',
      ok: false,
      detail: (err as Error).message,
      fix: 'the event socket accepted the login but not the commands: check its ACL and mod_commands',
    });
    return null;
  } finally {
    esl.close();
  }
}

/** FSB24_DATABASE_URL: reachable, and its schema at this version's (the service migrates it at start). True: usable. */
export async function checkDatabase(c: Readonly<ConfigShape>, add: (r: CheckResult) => void): Promise<boolean> {
  if (!c.database.url) return true;
  const where = storeLabel(c);
  let db: Awaited<ReturnType<typeof inspectDatabase>>;
  try {
    db = await inspectDatabase(c.database.url);
  } catch (err) {
    const fix = 'check FSB24_DATABASE_URL (host, port, user, password, database) and that PostgreSQL lets it in';
    add({ name: 'database reachable', ok: false, detail: `${where}: ${(err as Error).message}`, fix });
    return false;
  }
  add({ name: 'database reachable', ok: true, detail: `${where} (PostgreSQL ${db.server})` });
  const name = 'database schema';
  if (db.version === db.current) add({ name, ok: true, detail: `version ${db.version}, current` });
  else if (db.version > db.current)
    add({
      name,
      ok: false,
      detail: `version ${db.version}, newer than this version's ${db.current}`,
      fix: 'an instance of a newer version migrated it: run that version here too',
    });
  else
    add({
      name,
      ok: false,
      detail: db.version === 0 ? 'no tables yet' : `version ${db.version}, this version needs ${db.current}`,
      fix: 'start the service once: it creates and migrates its tables (its user needs CREATE on the database)',
    });
  return db.version === db.current;
}

/** A lease `check` reports, and what it means when no instance holds it. */
export interface LeaseToCheck {
  name: string;
  /** Free is normal (a lease taken only for a moment, as a token refresh's): passed, not warned. */
  transient?: boolean;
  /** What is not done while nobody holds it. */
  unheld: string;
}

/**
 * Who holds each lease of the instances sharing FSB24_DATABASE_URL, as PostgreSQL says now (the
 * instance its connection names, FSB24_INSTANCE_ID; a dead instance's session and locks are gone,
 * so it never shows), and who stands by for it.
 */
export async function checkLeases(
  c: Readonly<ConfigShape>,
  leases: readonly LeaseToCheck[],
  add: (r: CheckResult) => void,
): Promise<void> {
  if (!c.database.url || leases.length === 0) return;
  let states: Awaited<ReturnType<typeof leaseStates>>;
  try {
    states = await leaseStates(
      c.database.url,
      '',
      leases.map((l) => l.name),
    );
  } catch (err) {
    add({ name: 'leases', ok: false, detail: `not read: ${(err as Error).message}`, fix: 'see the database above' });
    return;
  }
  for (const l of leases) {
    const s = states.get(l.name);
    const name = `lease ${l.name}`;
    const waiting = s && s.waiting.length > 0 ? `; standing by: ${s.waiting.join(', ')}` : '';
    if (s?.holder)
      add({ name, ok: true, detail: `held by ${s.holder}${s.cut ? '… (name cut at 63 bytes)' : ''}${waiting}` });
    else if (l.transient) add({ name, ok: true, detail: `free (${l.unheld})${waiting}` });
    else
      add({
        name,
        ok: true,
        warn: true,
        detail: `held by no instance${waiting}: ${l.unheld}`,
        fix: 'start the service (an instance with this FSB24_DATABASE_URL takes it within seconds)',
      });
  }
}
