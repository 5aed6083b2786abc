/** The call model's settings, read from the service's configuration. */
import type { CardPolicy, ModelConfig } from '../calls/model.js';
import type { ConfigShape } from '../config.js';

export function modelConfig(c: Readonly<ConfigShape>): ModelConfig {
  return {
    trunkProfiles: c.calls.trunkProfiles,
    trunkIps: c.calls.trunkIps,
    didSource: c.calls.didSource,
    lines: c.calls.lines,
    gatewayLines: c.calls.gatewayLines,
    numberRules: c.calls.numberRules,
    sendInternal: c.calls.sendInternal,
    crmCreateIncoming: c.calls.crmCreateIncoming,
    crmCreateOutgoing: c.calls.crmCreateOutgoing,
    addToChat: c.calls.addToChat,
    cardPolicy: c.calls.cardPolicy,
    cardPolicyByExtension: c.calls.cardPolicyByExtension as Record<string, CardPolicy>,
    recordVariable: c.recordings.variable || null,
    chooseRecordings: c.recordings.choose,
    registerHoldMs: c.calls.registerHoldMs,
  };
}
