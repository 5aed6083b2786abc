/**
 * The API commands the simulator answers (freeswitch-esl.md §1.2, §7, §8; replies as
 * captured in fixtures/esl/api-replies.*). Unknown commands answer as mod_commands does.
 */
import { randomUUID } from 'node:crypto';
import type { Leg } from './leg.js';
import type { SimSwitch } from './switch.js';
import { endBridge, notifyKilled, pstnBehaviour, ringPstn, talk } from './flows.js';
import { OriginateSyntaxError, parseEndpoint, parseOriginate } from './originate.js';
import { blindTransfer } from './scenarios.js';
import { show, sofia, statusText, xmlLocate } from './reports.js';
// the simulator's own shapes (what its directory and gateway know), never the product's
// whitelist: sharing it would hide a product bug from the tests
const EXTENSION = /^[0-9]{2,8}$/;
const PHONE = /^\+?[0-9]{3,16}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ApiContext {
  sw: SimSwitch;
  /** Every originate the switch received, in order (tests read them back). */
  onOriginate?: (args: string) => void;
}

export async function runApi(ctx: ApiContext, line: string): Promise<string> {
  const sw = ctx.sw;
  const trimmed = line.trim();
  const sp = trimmed.indexOf(' ');
  const cmd = sp < 0 ? trimmed : trimmed.slice(0, sp);
  const args = sp < 0 ? '' : trimmed.slice(sp + 1).trim();
  switch (cmd) {
    case 'status':
      return statusText(sw);
    case 'show':
      return show(sw, args);
    case 'originate':
      ctx.onOriginate?.(args);
      return originate(sw, args);
    case 'uuid_kill': {
      const [uuid, cause] = args.split(/\s+/);
      const leg = uuid ? sw.legs.get(uuid) : undefined;
      if (!leg) return '-ERR No such channel!\n';
      killLeg(sw, leg, cause || 'MANAGER_REQUEST');
      return '+OK\n';
    }
    case 'uuid_exists':
      return sw.legs.has(args) ? 'true' : 'false';
    case 'uuid_getvar': {
      const [uuid, name] = args.split(/\s+/);
      const leg = uuid ? sw.legs.get(uuid) : undefined;
      if (!leg || !name) return '-ERR No such channel!\n';
      const v = leg.getVar(name);
      return v === undefined ? '_undef_' : typeof v === 'string' ? v : v.join('|:');
    }
    case 'uuid_setvar': {
      const m = /^(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(args);
      const leg = m ? sw.legs.get(m[1] as string) : undefined;
      if (!m || !leg) return '-ERR No such channel!\n';
      leg.setVar(m[2] as string, m[3] ?? '');
      return '+OK\n';
    }
    case 'uuid_transfer': {
      // uuid_transfer <uuid> [-bleg|-both] <dest> [dialplan] [context]: the caller is sent to
      // another extension; its current partner hangs up (a blind transfer, §3.2)
      const parts = args.split(/\s+/).filter((p) => p !== '-bleg' && p !== '-both');
      const leg = parts[0] ? sw.legs.get(parts[0]) : undefined;
      const dest = parts[1];
      if (!leg) return '-ERR No such channel!\n';
      if (!dest || !EXTENSION.test(dest)) return '-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n';
      const [a, b] = leg.otherType === 'originatee' ? [leg, leg.other] : [leg.other, leg];
      if (!a || !b || !a.times.bridged) return '-ERR No such channel!\n';
      a.takenOver = true;
      void blindTransfer(sw, a, b, dest).then(async (now) => {
        await talk(sw, sw.defaultTalkMs, [a, now]);
        await endBridge(sw, a, now, a);
      });
      return '+OK\n';
    }
    case 'xml_locate':
      return xmlLocate(sw, args);
    case 'global_getvar':
      // `domain`: what user/<ext> without a domain dials (vars.xml's $${domain})
      return args === 'recordings_dir' ? sw.recordingsDir : args === 'domain' ? sw.domain : '';
    case 'sofia':
      return sofia(sw, args);
    case 'user_exists': {
      // user_exists <key> <user> <domain> (freeswitch-esl.md §7): a user of that domain's directory
      const [key, id, domain] = args.split(/\s+/);
      return key === 'id' && id && domain && sw.extension(id, domain) ? 'true' : 'false';
    }
    case 'sofia_contact': {
      // [<profile>/]<user>@<domain> (`*/1001@a.pbx.test`): per domain (tenants/README.md)
      const [ext = '', domain] = args.replace(/^[^/]*\//, '').split('@');
      const setup = sw.extension(ext, domain);
      return setup?.registered
        ? `sofia/internal/sip:${ext}@127.0.0.1:${sw.phonePort(ext, domain)};transport=UDP`
        : 'error/user_not_registered';
    }
    default:
      return `-ERR ${cmd} Command not found!\n`;
  }
}

/** Hang up a leg from outside; its bridged partner follows (uuid_kill, §3.4). */
export function killLeg(sw: SimSwitch, leg: Leg, cause: string): void {
  if (leg.hangupCause) return;
  const partner = leg.other && sw.legs.has(leg.other.uuid) && leg.times.bridged ? leg.other : null;
  if (partner) {
    const [a, b] = leg.otherType === 'originatee' ? [leg, partner] : [partner, leg];
    sw.hangup(leg, cause, { disposition: 'send_bye' });
    void endBridge(sw, a, b, leg);
    return;
  }
  sw.hangup(leg, cause, { disposition: leg.answerState === 'answered' ? 'send_bye' : 'send_cancel' });
  notifyKilled(leg);
  // an unanswered or unbridged leg is completed by the flow that owns it, or here
  setImmediate(() => sw.complete(leg));
}

/**
 * `originate`: the first leg rings; the job ends when it answers or fails (§3.4). The
 * job result goes back at once; the application (bridge to the client) then runs on.
 */
async function originate(sw: SimSwitch, args: string): Promise<string> {
  let parsed;
  try {
    parsed = parseOriginate(args);
  } catch (err) {
    return err instanceof OriginateSyntaxError && err.message.startsWith('-USAGE')
      ? `${err.message}\n`
      : '-ERR INVALID_URL\n';
  }
  const ep = parsed.endpoint;
  const uuid = ep.vars.get('origination_uuid') ?? randomUUID();
  if (!UUID.test(uuid)) return '-ERR INVALID_URL\n';
  if (ep.kind !== 'user') return '-ERR INVALID_URL\n';
  // user/<ext>@<domain> is that domain's user; user/<ext> the switch's own domain's
  const setup = sw.extension(ep.target, ep.domain);
  if (!setup) return '-ERR SUBSCRIBER_ABSENT\n';
  // an unregistered user: no channel at all, only the job result (click2call-user-not-registered)
  if (!setup.registered) return '-ERR USER_NOT_REGISTERED\n';
  const vars: Array<[string, string]> = [...ep.vars.entries()];
  const a = sw.userOutbound(ep.target, null, {
    uuid,
    ...(ep.domain ? { domain: ep.domain } : {}),
    vars,
    callerIdName: ep.vars.get('origination_caller_id_name') ?? 'Outbound Call',
    callerIdNumber: ep.vars.get('origination_caller_id_number') ?? '0000000000',
    context: 'default',
  });
  sw.create(a);
  sw.progress(a);
  const timeoutMs = Number(ep.vars.get('originate_timeout') ?? '60') * 1000;
  if (setup.mode === 'noanswer' || setup.ringMs >= timeoutMs) {
    await sw.wait(timeoutMs);
    if (!a.hangupCause) sw.hangup(a, 'NO_ANSWER', { disposition: 'send_cancel' });
    sw.complete(a);
    return '-ERR NO_ANSWER\n';
  }
  await sw.wait(setup.ringMs);
  if (a.hangupCause) {
    sw.complete(a);
    return `-ERR ${a.hangupCause}\n`;
  }
  if (setup.mode === 'busy' || setup.mode === 'reject') {
    const [cause, status] = setup.mode === 'busy' ? ['USER_BUSY', '486'] : ['CALL_REJECTED', '603'];
    sw.hangup(a, cause, { sipTermStatus: status, disposition: 'recv_refuse' });
    sw.complete(a);
    return `-ERR ${cause}\n`;
  }
  sw.answer(a);
  void runApplication(sw, a, parsed.app, parsed.exten, parsed.context);
  return `+OK ${a.uuid}\n`;
}

/** After the first leg answered: `&bridge(...)` / an extension in a dialplan context / park. */
async function runApplication(
  sw: SimSwitch,
  a: Leg,
  app: { name: string; args: string } | null,
  exten: string | null,
  context: string | null,
): Promise<void> {
  await new Promise<void>((r) => setImmediate(r)); // the BACKGROUND_JOB goes out first
  if (exten) a.dialplan = 'XML';
  if (exten && context && !sw.contexts.has(context)) {
    // no such context: "No Route, Aborting" right after the job result (callback-context-missing)
    sw.hangup(a, 'NO_ROUTE_DESTINATION', { disposition: 'send_bye' });
    sw.complete(a);
    return;
  }
  let target: { number: string; vars: Map<string, string> } | null = null;
  if (app?.name === 'bridge') {
    const ep = parseEndpoint(app.args);
    if (ep.kind === 'gateway') target = { number: ep.target, vars: ep.vars };
    else if (ep.kind === 'user') target = { number: ep.target, vars: ep.vars };
  } else if (exten === 'b24_callback' && context && sw.contexts.get(context)?.includes('b24_callback')) {
    // the shipped dialplan context (conf/freeswitch/dialplan): speak or play, then dial the client
    const client = a.getVar('b24_client');
    const callee = a.getVar('b24_callee_uuid');
    if (typeof client === 'string') {
      await sw.wait(3000);
      target = { number: client, vars: new Map(typeof callee === 'string' ? [['origination_uuid', callee]] : []) };
    }
  } else if (exten && PHONE.test(exten)) {
    target = { number: exten, vars: new Map() };
  }
  if (!target) {
    // park / playback / anything else: the leg stays up until it is killed
    await talk(sw, -1, [a]);
    sw.complete(a);
    return;
  }
  const effective = a.getVar('effective_caller_id_number');
  const cid =
    target.vars.get('origination_caller_id_number') ?? (typeof effective === 'string' ? effective : undefined);
  const bVars: Array<[string, string]> = [...target.vars.entries()];
  const isUser = app?.name === 'bridge' && parseEndpoint(app.args).kind === 'user';
  if (isUser) {
    // bridge to another phone: handled like a gateway leg but on the internal profile
    const bDomain = parseEndpoint((app as { args: string }).args).domain;
    const b = sw.userOutbound(target.number, a, {
      vars: bVars,
      ...(bDomain ? { domain: bDomain } : {}),
      ...(target.vars.get('origination_uuid') ? { uuid: target.vars.get('origination_uuid') as string } : {}),
    });
    sw.create(b);
    sw.progress(b);
    await sw.wait(sw.extension(target.number, bDomain)?.ringMs ?? 2000);
    sw.answer(b);
    sw.bridge(a, b);
    await talk(sw, sw.defaultTalkMs, [a, b]);
    await endBridge(sw, a, b, b);
    return;
  }
  const b = sw.gatewayOutbound(target.number, a, {
    ...(target.vars.get('origination_uuid') ? { uuid: target.vars.get('origination_uuid') as string } : {}),
    ...(cid ? { callerIdNumber: cid } : {}),
    vars: bVars,
  });
  b.dialplan = a.dialplan;
  a.setVar('current_application', 'bridge');
  const vs = [...target.vars].map(([k, v]) => `${k}=${v}`).join(',');
  const dialled = `${vs ? `{${vs}}` : ''}sofia/gateway/${sw.gateway}/${target.number}`;
  a.setVar('current_application_data', app?.name === 'bridge' ? app.args : dialled);
  const out = await ringPstn(sw, b, Number(a.getVar('call_timeout') ?? '60') * 1000);
  if (!out.answered) {
    a.setVar('originate_disposition', out.cause);
    a.setVar('last_bridge_hangup_cause', out.cause);
    if (out.sipStatus) a.setVar('last_bridge_proto_specific_hangup_cause', `sip:${out.sipStatus}`);
    if (!a.hangupCause) sw.hangup(a, 'NORMAL_CLEARING', { disposition: 'send_bye' });
    sw.complete(a);
    return;
  }
  // FreeSWITCH swaps caller and callee on the originated leg once it bridges (click2call-answered)
  a.callerIdName = 'Outbound Call';
  a.callerIdNumber = a.init.destination;
  a.calleeIdName = 'Outbound Call';
  a.calleeIdNumber = target.number;
  sw.bridge(a, b);
  await talk(sw, pstnBehaviour(sw, target.number).talkMs, [a, b]);
  await endBridge(sw, a, b, a.hangupCause ? a : b);
}
