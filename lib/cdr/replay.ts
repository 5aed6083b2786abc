/**
 * A call's CDRs told to the call model: each leg becomes the events the switch would have sent
 * (create, answer, bridge, the recorder, hang-up), replayed in time order into a fresh
 * `CallModel`. So a back-filled call is classified, owned, timed and given its status by the
 * same code as a live one (lib/calls), never by a second set of rules. Pure: no I/O.
 */
import type { ChannelEvent, ChannelEventName } from '../events/channel-event.js';
import { CallModel, type ModelConfig } from '../calls/model.js';
import type { Effect } from '../calls/effects.js';
import { LegFactsTracker, type CallFacts } from '../switch/facts.js';
import type { CdrLeg } from './parse.js';

export interface Replayed {
  /** What Bitrix24 is to be told of the call: register (or adopt), finish, attach; nothing for an internal call. */
  effects: Effect[];
  /** What its legs say about the portal it belongs to (domains, line, gateway). */
  facts: CallFacts;
}

/** Events at the same µs keep the switch's order: a leg exists before it answers, bridges and hangs up. */
const RANK: Readonly<Partial<Record<ChannelEventName, number>>> = {
  CHANNEL_CREATE: 0,
  RECORD_START: 1,
  CHANNEL_ANSWER: 2,
  CHANNEL_BRIDGE: 3,
  CHANNEL_HANGUP_COMPLETE: 4,
  CHANNEL_DESTROY: 5,
};

/** The events a switch would have sent for these legs, in time order (the A leg `call` first on a tie). */
export function eventsOf(legs: readonly CdrLeg[], call: string): ChannelEvent[] {
  const out: Array<{ ev: ChannelEvent; a: boolean }> = [];
  for (const leg of legs) {
    const vars = new Map(Object.entries(leg.vars));
    const ev = (name: ChannelEventName, atUs: number, extra: Partial<ChannelEvent> = {}): void => {
      out.push({
        a: leg.uuid === call,
        ev: {
          name,
          uuid: leg.uuid,
          atUs,
          direction: leg.direction,
          channelName: leg.channelName,
          callerNumber: leg.callerNumber,
          destination: leg.destination,
          calleeNumber: undefined,
          otherLeg: leg.originator ? { uuid: leg.originator, type: 'originator' } : undefined,
          bridgeA: undefined,
          bridgeB: undefined,
          hangupCause: undefined,
          callState: '',
          answeredUs: 0,
          bridgedUs: 0,
          hangupUs: 0,
          recordFile: undefined,
          vars,
          ...extra,
        },
      });
    };
    ev('CHANNEL_CREATE', leg.startUs);
    // the recorder ran (fixtures/cdr/README.md "Recording": app_log names the file, record_* say it was written)
    for (const path of leg.recordings) ev('RECORD_START', leg.startUs, { recordFile: path });
    if (leg.answerUs > 0) ev('CHANNEL_ANSWER', leg.answerUs, { answeredUs: leg.answerUs });
    // a B leg bridged to the leg that dialled it: the bridge the A leg's CHANNEL_BRIDGE reports
    if (leg.originator && leg.bridgeUs > 0 && leg.partners.includes(leg.originator)) {
      ev('CHANNEL_BRIDGE', leg.bridgeUs, {
        bridgeA: leg.originator,
        bridgeB: leg.uuid,
        answeredUs: leg.answerUs,
        bridgedUs: leg.bridgeUs,
      });
    }
    ev('CHANNEL_HANGUP_COMPLETE', leg.endUs, {
      hangupCause: leg.hangupCause || undefined,
      answeredUs: leg.answerUs,
      bridgedUs: leg.bridgeUs,
      hangupUs: leg.endUs,
    });
    ev('CHANNEL_DESTROY', leg.endUs);
  }
  out.sort(
    (x, y) => x.ev.atUs - y.ev.atUs || (RANK[x.ev.name] ?? 9) - (RANK[y.ev.name] ?? 9) || Number(y.a) - Number(x.a),
  );
  return out.map((o) => o.ev);
}

/**
 * The effects of a call that ended, from its legs' CDRs: the model's own register, finish and
 * attach. Cards (show, hide) and `connected` are left out (the call is over). The register names
 * who answered when someone did (else who rang first, as live) and shows no card.
 */
export function replay(legs: readonly CdrLeg[], call: string, cfg: ModelConfig): Replayed {
  const model = new CallModel(cfg);
  const facts = new LegFactsTracker();
  const all: Effect[] = [];
  for (const ev of eventsOf(legs, call)) {
    facts.note(ev);
    all.push(...model.apply(ev));
  }
  const mine = all.filter((e) => e.call === call);
  const finish = mine.find((e) => e.kind === 'finish');
  const effects: Effect[] = [];
  let line: string | null = null;
  for (const e of mine) {
    if (e.kind === 'register') {
      line = e.line;
      const answered = finish?.kind === 'finish' && finish.extension ? finish.extension : e.extension;
      effects.push({ ...e, extension: answered, show: false });
    } else if (e.kind === 'adopt' || e.kind === 'finish' || e.kind === 'attach') {
      effects.push(e);
    }
  }
  return { effects, facts: facts.facts([...new Set(legs.map((l) => l.uuid))], line) };
}
