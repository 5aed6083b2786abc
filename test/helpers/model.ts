/** Feed a simulated switch's events straight into a call model (no sockets): events in, effects out. */
import { SimSwitch, type SimSwitchOptions } from '../../lib/sim/freeswitch/index.js';
import { EslEvent, type HeaderValue } from '../../lib/esl/codec.js';
import { toChannelEvent } from '../../lib/events/channel-event.js';
import { CallModel, defaultModelConfig, type ModelConfig } from '../../lib/calls/model.js';
import type { Effect } from '../../lib/calls/effects.js';

export function modelOn(
  cfg: Partial<ModelConfig> = {},
  sim: SimSwitchOptions = {},
): { sw: SimSwitch; model: CallModel; effects: Effect[] } {
  const sw = new SimSwitch({ recordingsDir: '/tmp/fsb24-model-tests', ...sim });
  const model = new CallModel({ ...defaultModelConfig, ...cfg });
  const effects: Effect[] = [];
  sw.subscribe((e) => {
    const ce = toChannelEvent(new EslEvent(e.headers as Array<[string, HeaderValue]>, e.body), ['b24_record_path']);
    if (ce) effects.push(...model.apply(ce));
  });
  return { sw, model, effects };
}
