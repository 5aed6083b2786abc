/**
 * The first call after a start must not pay for compiling its path: V8 compiles a function
 * when it is first called, and the first card after a start went out 30-40 ms late where
 * the next ones took 5-10 ms (`npm run bench -- --rates 1`). So at start, before the event
 * socket is subscribed, a captured sample (./warm-sample.ts) goes through what an event
 * goes through: framing, decoding, the typed event, the leg facts and a call model of its
 * own. Its effects go on to the portals' planners (lib/outbox/warm.ts). Nothing of it is
 * kept, counted, written or sent.
 */
import { FrameParser } from '../esl/frame.js';
import { decodeJsonEvent } from '../esl/codec.js';
import { toChannelEvent } from '../events/channel-event.js';
import { CallModel, type ModelConfig } from '../calls/model.js';
import type { Effect } from '../calls/effects.js';
import { LegFactsTracker } from './facts.js';
import { sampleBytes } from './warm-sample.js';

/** The sample's effects through a throwaway model with the service's settings (its trunk is on `external`). */
export function rehearse(model: ModelConfig, recordVariables: readonly string[]): Effect[] {
  const calls = new CallModel({ ...model, trunkProfiles: ['external'], trunkIps: [] });
  const facts = new LegFactsTracker();
  const out: Effect[] = [];
  for (const frame of new FrameParser('replies').push(sampleBytes())) {
    if (!frame.body) continue;
    const ev = toChannelEvent(decodeJsonEvent(frame.body), recordVariables);
    if (!ev) continue;
    facts.note(ev);
    out.push(...calls.apply(ev));
    const d = calls.describe(ev.uuid);
    if (d) facts.facts(d.legs, d.line);
  }
  return out;
}
