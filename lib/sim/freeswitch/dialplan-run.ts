/**
 * Runs an incoming trunk leg through a dialplan (dialplan.ts) the way FreeSWITCH would,
 * and turns what it executes into the plan inboundCall plays: who rings, for how long,
 * in which order, or the refusal that ends the call. The applications it knows:
 * set, record_session, curl (mod_curl's application: a real HTTP GET with the timeouts
 * mod_curl takes from curl_connect_timeout / curl_timeout, whole seconds), bridge,
 * hangup, respond and execute_extension. Anything else is refused loudly.
 */
import { request } from 'node:http';
import type { Leg } from './leg.js';
import type { SimSwitch } from './switch.js';
import { DialplanError, expand, hunt, parseDialplan, type DpExtension } from './dialplan.js';

export interface DialplanPlan {
  /** The extension the hunt chose (null: nothing matched, the call is refused). */
  extension: string | null;
  record: boolean;
  /** Bridges in order: the first to be answered takes the call (`user/<ext>@<domain>`: that domain's users). */
  bridges: Array<{ extensions: string[]; timeoutMs: number; domain?: string }>;
  /** The call is refused before any bridge (a hangup or respond the dialplan reached first). */
  refused: { cause: string; sipStatus?: string } | null;
  /** Time the dialplan spent in HTTP lookups (virtual time the switch moves on). */
  waitedMs: number;
  /** Every curl request made, as sent. */
  requests: Array<{ url: string; code: number; body: string; timedOut: boolean }>;
}

/** A timer the test can move (no real waiting); real setTimeout by default. */
export interface CurlClock {
  after(ms: number): Promise<void>;
}

export interface DialplanOptions {
  /** Where a URL in the dialplan really goes (the service listens on a free port in tests). */
  rewriteUrl?: (url: string) => string;
  clock?: CurlClock;
  /** Pre-processor globals ($${recordings_dir}...). */
  globals?: Record<string, string>;
  /**
   * The tenant domain this inbound route belongs to (FusionPBX's route sets domain_name inline
   * before anything else); default: the switch's own domain.
   */
  domain?: string;
}

const realClock: CurlClock = { after: (ms) => new Promise((r) => setTimeout(r, ms).unref()) };

/** SIP response → hangup cause for `respond` (sofia's usual mapping). */
const RESPOND_CAUSE: Record<string, string> = {
  '403': 'CALL_REJECTED',
  '404': 'UNALLOCATED_NUMBER',
  '480': 'NO_USER_RESPONSE',
  '486': 'USER_BUSY',
  '503': 'NORMAL_TEMPORARY_FAILURE',
  '603': 'CALL_REJECTED',
};

/** mod_curl's curl application: curl_response_data (empty when nothing came back) and curl_response_code. */
export async function curlGet(
  url: string,
  vars: ReadonlyMap<string, string>,
  clock: CurlClock,
): Promise<{ code: number; body: string; timedOut: boolean; ms: number }> {
  // atoi(): "0.8" is 0, which mod_curl takes as "no timeout"
  const connectS = Number.parseInt(vars.get('curl_connect_timeout') ?? '', 10) || 0;
  const totalS = Number.parseInt(vars.get('curl_timeout') ?? '', 10) || 0;
  const started = Date.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: number, body: string, timedOut: boolean, ms = Date.now() - started): void => {
      if (done) return;
      done = true;
      req.destroy();
      // do_lookup_url keeps no body that is empty or a single space
      resolve({ code, body: body === ' ' ? '' : body, timedOut, ms });
    };
    const req = request(url, { method: 'GET', headers: { 'user-agent': 'freeswitch-curl/1.0' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), false));
      res.on('error', () => finish(0, '', false));
    });
    req.on('error', () => finish(0, '', false));
    req.end();
    if (totalS > 0) void clock.after(totalS * 1000).then(() => finish(0, '', true, totalS * 1000));
    if (connectS > 0) {
      req.on('socket', (s) => {
        if (s.connecting)
          void clock.after(connectS * 1000).then(() => s.connecting && finish(0, '', true, connectS * 1000));
      });
    }
  });
}

/** A dialplan context built from snippets (their extensions in order), ready to run trunk legs. */
export function dialplanContext(
  xml: string[],
  o: DialplanOptions = {},
): (sw: SimSwitch, a: Leg) => Promise<DialplanPlan> {
  return async (sw, a) => {
    const exts: DpExtension[] = xml.flatMap((x) =>
      parseDialplan(x, { recordings_dir: sw.recordingsDir, domain: sw.domain, ...o.globals }),
    );
    const vars = new Map<string, string>([
      ['uuid', a.uuid],
      ['domain_name', o.domain ?? sw.domain],
      ['caller_id_number', a.callerIdNumber],
      ['caller_id_name', a.callerIdName],
    ]);
    const plan: DialplanPlan = {
      extension: null,
      record: false,
      bridges: [],
      refused: null,
      waitedMs: 0,
      requests: [],
    };
    const profile = (dest: string): Record<string, string> => ({
      destination_number: dest,
      caller_id_number: a.callerIdNumber,
      caller_id_name: a.callerIdName,
      context: a.init.context,
      network_addr: a.init.networkAddr ?? '',
    });
    const exec = async (app: string, data: string): Promise<'stop' | void> => {
      switch (app) {
        case 'set': {
          const eq = data.indexOf('=');
          if (eq < 0) throw new DialplanError(`set without =: ${data}`);
          const value = data.slice(eq + 1);
          if (value === '') vars.delete(data.slice(0, eq));
          else vars.set(data.slice(0, eq), value);
          a.setVar(data.slice(0, eq), value);
          return;
        }
        case 'record_session':
          plan.record = true;
          return;
        case 'curl': {
          const [url, ...rest] = data.split(' ');
          if (rest.some((r) => r && r !== 'get'))
            throw new DialplanError(`the simulator's curl does GET only: ${data}`);
          const res = await curlGet(o.rewriteUrl ? o.rewriteUrl(url!) : url!, vars, o.clock ?? realClock);
          plan.requests.push({ url: url!, code: res.code, body: res.body, timedOut: res.timedOut });
          plan.waitedMs += res.ms;
          vars.set('curl_response_data', res.body);
          vars.set('curl_response_code', String(res.code));
          return;
        }
        case 'bridge': {
          const timeoutMs = (Number.parseInt(vars.get('call_timeout') ?? '', 10) || 60) * 1000;
          // "a,b" rings together; "a|b" one after the other
          for (const part of data.split('|')) {
            const dests = part.split(',').map((d) => /^user\/(\d+)(?:@(.+))?$/.exec(d.trim()));
            if (dests.some((m) => !m)) throw new DialplanError(`the simulator bridges user/<ext> only: ${data}`);
            const domain = dests[0]?.[2];
            if (dests.some((m) => m?.[2] !== domain)) throw new DialplanError(`one domain per bridge: ${data}`);
            const exts = dests.map((m) => m?.[1] as string);
            plan.bridges.push({ extensions: exts, timeoutMs, ...(domain ? { domain } : {}) });
          }
          return;
        }
        // after a bridge, the bridge's own outcome ends the call (inboundCall plays it)
        case 'hangup':
          if (plan.bridges.length === 0) plan.refused = { cause: data || 'NORMAL_CLEARING' };
          return 'stop';
        case 'respond': {
          const code = data.split(' ')[0]!;
          if (plan.bridges.length === 0)
            plan.refused = { cause: RESPOND_CAUSE[code] ?? 'NORMAL_CLEARING', sipStatus: code };
          return 'stop';
        }
        case 'execute_extension': {
          const [dest] = data.split(' ');
          const found = await hunt(exts, {
            profile: profile(dest!),
            vars,
            inline: (ap, d) => exec(ap, expand(d, vars)).then(() => undefined),
          });
          if (!found) return;
          for (const step of found.actions)
            if ((await exec(step.app, expand(step.data, vars))) === 'stop') return 'stop';
          return;
        }
        default:
          throw new DialplanError(`the simulator has no dialplan application ${app}`);
      }
    };
    const found = await hunt(exts, {
      profile: profile(a.init.destination),
      vars,
      inline: (app, d) => exec(app, expand(d, vars)).then(() => undefined),
    });
    if (!found) {
      plan.refused = { cause: 'NO_ROUTE_DESTINATION' };
      return plan;
    }
    plan.extension = found.extension;
    for (const step of found.actions) if ((await exec(step.app, expand(step.data, vars))) === 'stop') break;
    return plan;
  };
}
