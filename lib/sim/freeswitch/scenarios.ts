/**
 * Scripted call scenarios: the event sequences a real switch produces for the calls
 * an office makes. Each names the capture it reproduces (fixtures/esl) or, where no
 * capture exists, the reference section it follows (freeswitch-esl.md §3).
 */
import { randomUUID } from 'node:crypto';
import type { Leg } from './leg.js';
import type { SimSwitch } from './switch.js';
import { endBridge, ringPhone, ringPstn, talk } from './flows.js';
import type { DialplanPlan } from './dialplan-run.js';

export interface InboundOptions {
  caller: string;
  did: string;
  /** Extensions rung at once (ring group) or one after another (`hunt: true`). */
  extensions: string[];
  hunt?: boolean;
  /** Ring time per leg for a hunt, and call_timeout for a group (default 30 s). */
  timeoutMs?: number;
  talkMs?: number;
  /** The caller gives up after this long without an answer. */
  callerGivesUpMs?: number;
  /** Who hangs up first once connected. */
  hangupBy?: 'caller' | 'employee';
  record?: boolean;
  viaGateway?: string;
  /**
   * A tenant domain (FusionPBX): the inbound route transfers the call into the domain's
   * context, so the trunk leg has `domain_name` from its next event on, and the phones are
   * rung as `user/<ext>@<domain>` (fixtures/esl/tenants).
   */
  domain?: string;
  uuid?: string;
  /**
   * The dialplan's routing lookup (mod_curl to GET /route), run after the trunk leg
   * exists; a non-empty answer is rung alone first for `routeRingMs`, then the group.
   */
  route?: () => Promise<string>;
  routeRingMs?: number;
  /**
   * Run the trunk leg through a dialplan (dialplan-run.ts: the shipped snippets) instead:
   * its plan decides recording, the lookup, who rings for how long, or the refusal.
   */
  dialplan?: (sw: SimSwitch, a: Leg) => Promise<DialplanPlan>;
  /** Transfer after `afterMs` of talk to another extension, blind or attended. */
  transfer?: { to: string; kind: 'blind' | 'attended'; afterMs: number };
}

export interface ScenarioResult {
  uuid: string;
  legs: string[];
  recording?: string;
}

/** inbound-ringgroup-answered / -missed; hunt and transfers per §3.2. */
export async function inboundCall(sw: SimSwitch, o: InboundOptions): Promise<ScenarioResult> {
  const a = sw.trunkInbound(o.caller, o.did, {
    uuid: o.uuid ?? randomUUID(),
    ...(o.viaGateway ? { viaGateway: o.viaGateway } : {}),
  });
  const result: ScenarioResult = { uuid: a.uuid, legs: [a.uuid] };
  sw.create(a);
  // the dialplan hunt (and its inline lookup) runs once the channel exists
  const plan = o.dialplan ? await o.dialplan(sw, a) : null;
  if (plan) await sw.wait(plan.waitedMs);
  if (plan?.refused) {
    a.setVar('originate_disposition', plan.refused.cause);
    const sip = plan.refused.sipStatus ? { sipTermStatus: plan.refused.sipStatus } : {};
    sw.hangup(a, plan.refused.cause, { ...sip, disposition: 'send_refuse' });
    sw.complete(a);
    return result;
  }
  // the phones are rung 0-40 ms after the trunk leg appears (inbound-ringgroup-*: 0 ms in
  // the plain capture, 20 ms in the json one)
  await sw.wait(0);
  a.setVar('call_timeout', String(Math.round((o.timeoutMs ?? 30000) / 1000)));
  a.setVar('hangup_after_bridge', 'true');
  a.setVar('continue_on_fail', 'true');
  a.setVar('current_application', 'bridge');
  const domain = o.domain ?? sw.domain;
  const domainUuid = sw.domainUuid(o.domain);
  if (o.domain) {
    // FusionPBX's inbound route: set domain_uuid and domain_name inline, then transfer into the domain
    if (domainUuid) a.setVar('domain_uuid', domainUuid);
    a.setVar('domain_name', o.domain);
    a.setVar('dialed_domain', o.domain); // the user/ bridge sets it on the calling leg too
    a.init.context = o.domain;
  }
  a.setVar('current_application_data', o.extensions.map((e) => `user/${e}@${domain}`).join(o.hunt ? '|' : ','));
  sw.progressMedia(a);
  if (plan ? plan.record : o.record !== false) {
    const path = sw.recordingPath(a.uuid);
    a.setVar('RECORD_STEREO', 'true');
    sw.startRecorder(a, path); // closed as A completes (SimSwitch.complete), a kill included
    result.recording = path;
  }
  const timeoutMs = o.timeoutMs ?? 30000;
  const giveUp = o.callerGivesUpMs ?? Infinity;
  const groups: Array<{ extensions: string[]; timeoutMs: number; domain?: string }> = (
    o.hunt ? o.extensions.map((e) => [e]) : [o.extensions]
  ).map((g) => ({ extensions: g, timeoutMs }));
  const routedTo = o.route ? await o.route() : '';
  if (/^\d+$/.test(routedTo)) groups.unshift({ extensions: [routedTo], timeoutMs: o.routeRingMs ?? 15000 });
  if (plan) groups.splice(0, groups.length, ...plan.bridges);
  let winner: Leg | null = null;
  let elapsed = 0;
  const tried: Array<[Leg, string]> = [];
  // the bridge application starts: FreeSWITCH marks the originate as failed until one answers
  a.setVar('originate_disposition', 'failure');
  for (const { extensions: group, timeoutMs: limit, domain: bridged } of groups) {
    // the users of the domain dialled (the call's): a tenant's 1001 is not the switch's 1001
    const dom = bridged ?? o.domain;
    const live = group.filter((e) => sw.extension(e, dom)?.registered);
    // a forked dial (a,b) sets the directory variables at CREATE, a single destination only at
    // answer (tenants/README.md)
    const forked: Array<[string, string]> =
      dom && sw.directory.isTenant(dom) && live.length > 1
        ? [
            ['accountcode', dom],
            ['user_context', dom],
          ]
        : [];
    const legs = live.map((e) => sw.userOutbound(e, a, dom ? { domain: dom, vars: forked } : {}));
    for (const l of legs) {
      sw.create(l);
      result.legs.push(l.uuid);
    }
    for (const l of legs) sw.progress(l);
    // who answers first, who refuses, within the ring time and the caller's patience
    const plans = legs.map((l) => ({ leg: l, setup: sw.extension(l.init.destination, dom)! }));
    const answering = plans
      .filter((p) => p.setup.mode === 'answer' && p.setup.ringMs < limit)
      .sort((x, y) => x.setup.ringMs - y.setup.ringMs)[0];
    const busy = plans.filter((p) => p.setup.mode === 'busy' || p.setup.mode === 'reject');
    const until = Math.min(answering ? answering.setup.ringMs : limit, giveUp - elapsed);
    for (const p of busy.sort((x, y) => x.setup.ringMs - y.setup.ringMs)) {
      if (p.setup.ringMs >= until) continue;
      sw.hangup(p.leg, 'USER_BUSY', { sipTermStatus: '486', disposition: 'recv_refuse' });
      sw.complete(p.leg);
      tried.push([p.leg, 'USER_BUSY']);
    }
    await sw.wait(Math.max(0, until));
    elapsed += Math.max(0, until);
    const ringing = legs.filter((l) => !l.hangupCause);
    if (elapsed >= giveUp) {
      // the carrier CANCELs: every leg ends ORIGINATOR_CANCEL (inbound-ringgroup-missed)
      sw.hangup(a, 'ORIGINATOR_CANCEL', { sipTermStatus: '487', disposition: 'recv_cancel' });
      a.setVar('originate_disposition', 'ORIGINATOR_CANCEL');
      for (const l of ringing) sw.hangup(l, 'ORIGINATOR_CANCEL', { disposition: 'send_cancel' });
      for (const l of ringing) sw.complete(l);
      sw.complete(a);
      return result;
    }
    if (answering && until === answering.setup.ringMs) {
      winner = answering.leg;
      sw.answer(winner);
      // user_outgoing_channel sets the directory variables once its originate returns: at answer
      if (o.domain) for (const k of ['domain_name', 'user_context', 'accountcode']) winner.setVar(k, o.domain);
      if (domainUuid) winner.setVar('domain_uuid', domainUuid);
      const losers = ringing.filter((l) => l !== winner);
      for (const l of losers) {
        l.setVar('group_dial_status', 'loser');
        sw.hangup(l, 'LOSE_RACE', { disposition: l.answerState === 'answered' ? 'send_bye' : 'send_cancel' });
        tried.push([l, 'LOSE_RACE']);
        // A's Other-Leg names the loser until the bridge (inbound-ringgroup-answered: A ANSWER)
        a.other = l;
        a.otherType = 'originatee';
      }
      tried.unshift([winner, 'NONE']);
      sw.answer(a);
      for (const l of losers) sw.complete(l);
      break;
    }
    for (const l of ringing) {
      sw.hangup(l, 'NO_ANSWER', { disposition: 'send_cancel' });
      tried.push([l, 'NO_ANSWER']);
    }
    for (const l of ringing) sw.complete(l);
  }
  a.setVar(
    'originated_legs',
    tried.map(([l]) => `${l.uuid};Outbound Call;${l.init.destination}`),
  );
  a.setVar(
    'originate_causes',
    tried.map(([l, c]) => `${l.uuid};${c}`),
  );
  if (!winner) {
    const cause = tried.length > 0 && tried.every(([, c]) => c === 'USER_BUSY') ? 'USER_BUSY' : 'NO_ANSWER';
    a.setVar('originate_disposition', cause);
    a.setVar('DIALSTATUS', cause === 'USER_BUSY' ? 'BUSY' : 'NOANSWER');
    sw.hangup(a, cause, { disposition: 'send_refuse' });
    sw.complete(a);
    return result;
  }
  a.setVar('originate_disposition', 'SUCCESS');
  a.setVar('DIALSTATUS', 'SUCCESS');
  sw.bridge(a, winner);
  let current = winner;
  if (o.transfer) {
    await talk(sw, o.transfer.afterMs, [a, current]);
    current =
      o.transfer.kind === 'blind'
        ? await blindTransfer(sw, a, current, o.transfer.to, result)
        : await attendedTransfer(sw, a, current, o.transfer.to, result);
  }
  await talk(sw, o.talkMs ?? 5000, [a, current]);
  if (a.takenOver) return result; // uuid_transfer ends the call from here on
  await endBridge(sw, a, current, o.hangupBy === 'employee' ? current : a);
  return result;
}

/** The phone REFERs the caller elsewhere: B hangs up, A re-enters the dialplan (§3.2 item 6). */
export async function blindTransfer(
  sw: SimSwitch,
  a: Leg,
  b: Leg,
  to: string,
  result: ScenarioResult = { uuid: a.uuid, legs: [] },
): Promise<Leg> {
  sw.hangup(b, 'NORMAL_CLEARING', { sipTermStatus: '200', disposition: 'recv_bye' });
  sw.unbridge(a, b);
  sw.complete(b);
  a.times.transfer = sw.nowUs();
  a.setVar('transfer_history', `${Math.floor(sw.nowUs() / 1e6)}:${randomUUID()}:bl_xfer:${to}/default/XML`);
  a.setVar('transfer_source', `${Math.floor(sw.nowUs() / 1e6)}:${randomUUID()}:bl_xfer:${to}/default/XML`);
  const next = sw.userOutbound(to, a);
  result.legs.push(next.uuid);
  const out = await ringPhone(sw, next, 30000);
  if (!out.answered) {
    if (!next.hangupCause) sw.hangup(next, out.cause, { disposition: 'send_cancel' });
    sw.complete(next);
    return b;
  }
  sw.bridge(a, next);
  return next;
}

/**
 * Attended transfer: the employee calls a colleague (an internal call), then
 * transfers; FreeSWITCH re-pairs the caller with the colleague's leg and the two
 * consultation legs end with ATTENDED_TRANSFER (§3.2 item 6).
 */
async function attendedTransfer(sw: SimSwitch, a: Leg, b: Leg, to: string, result: ScenarioResult): Promise<Leg> {
  const from = b.init.destination;
  const c = sw.extensionInbound(from, to);
  sw.create(c);
  const d = sw.userOutbound(to, c);
  result.legs.push(c.uuid, d.uuid);
  const out = await ringPhone(sw, d, 30000);
  if (!out.answered) {
    sw.hangup(c, out.cause, { disposition: 'send_refuse' });
    sw.complete(d);
    sw.complete(c);
    return b;
  }
  sw.answer(c);
  sw.bridge(c, d);
  await sw.wait(3000);
  sw.unbridge(a, b);
  sw.unbridge(c, d);
  sw.hangup(b, 'ATTENDED_TRANSFER', { disposition: 'recv_bye' });
  sw.hangup(c, 'ATTENDED_TRANSFER', { disposition: 'recv_bye' });
  sw.complete(b);
  sw.complete(c);
  d.other = null;
  sw.bridge(a, d);
  return d;
}

export interface OutboundOptions {
  extension: string;
  number: string;
  callerId?: string;
  talkMs?: number;
  uuid?: string;
  hangupBy?: 'employee' | 'client';
  /** A tenant's phone (fixtures/esl/tenants): the call is in that domain's context. */
  domain?: string;
}

/** outbound-answered / outbound-busy: an extension dials out through the gateway. */
export async function outboundCall(sw: SimSwitch, o: OutboundOptions): Promise<ScenarioResult> {
  const tenant = o.domain ? { domain: o.domain } : {};
  const a = sw.extensionInbound(o.extension, o.number, { uuid: o.uuid ?? randomUUID(), ...tenant });
  sw.create(a);
  a.setVar('effective_caller_id_number', o.callerId ?? '4951234567');
  a.setVar('call_timeout', '60');
  const b = sw.gatewayOutbound(o.number, a, { callerIdNumber: o.callerId ?? '4951234567' });
  const result: ScenarioResult = { uuid: a.uuid, legs: [a.uuid, b.uuid] };
  a.setVar('originate_disposition', 'failure');
  const out = await ringPstn(sw, b, 60000, () => sw.progressMedia(a));
  if (!out.answered) {
    a.setVar('last_bridge_hangup_cause', out.cause);
    if (out.sipStatus) a.setVar('last_bridge_proto_specific_hangup_cause', `sip:${out.sipStatus}`);
    a.setVar('originate_disposition', out.cause);
    await sw.wait(20);
    sw.hangup(a, out.cause, { disposition: 'send_refuse' });
    sw.complete(a);
    return result;
  }
  sw.answer(a);
  a.setVar('originate_disposition', 'SUCCESS');
  sw.bridge(a, b);
  await talk(sw, o.talkMs ?? 4000, [a, b]);
  if (a.takenOver) return result;
  await endBridge(sw, a, b, o.hangupBy === 'client' ? b : a);
  return result;
}

/** An extension calls another one: internal only, never sent to Bitrix24 by default. */
export async function internalCall(sw: SimSwitch, from: string, to: string, talkMs = 3000): Promise<ScenarioResult> {
  const a = sw.extensionInbound(from, to);
  sw.create(a);
  const b = sw.userOutbound(to, a);
  const out = await ringPhone(sw, b, 30000);
  if (!out.answered) {
    sw.hangup(a, out.cause, { disposition: 'send_refuse' });
    if (!b.hangupCause) sw.hangup(b, 'ORIGINATOR_CANCEL', { disposition: 'send_cancel' });
    sw.complete(b);
    sw.complete(a);
    return { uuid: a.uuid, legs: [a.uuid, b.uuid] };
  }
  sw.answer(a);
  sw.bridge(a, b);
  await talk(sw, talkMs, [a, b]);
  await endBridge(sw, a, b, a);
  return { uuid: a.uuid, legs: [a.uuid, b.uuid] };
}
