/** What the call model can be told (lib/config.ts maps the service's settings onto it). */
import type { NumberRule } from './numbers.js';

export type CardPolicy = 'ring' | 'answer' | 'never';

export interface ModelConfig {
  trunkProfiles: readonly string[];
  /** Carrier addresses: an inbound leg from one of them is a trunk leg whatever its profile. */
  trunkIps: readonly string[];
  /** Which header carries the DID on an incoming trunk leg. */
  didSource: 'sip_to_user' | 'sip_req_user' | 'destination';
  /** DID → LINE_NUMBER; a DID not listed is its own line. */
  lines: Readonly<Record<string, string>>;
  /** Gateway → LINE_NUMBER for outgoing calls; default: the caller ID the gateway leg used. */
  gatewayLines: Readonly<Record<string, string>>;
  numberRules: readonly NumberRule[];
  sendInternal: boolean;
  crmCreateIncoming: boolean;
  crmCreateOutgoing: boolean;
  addToChat: boolean;
  cardPolicy: CardPolicy;
  cardPolicyByExtension: Readonly<Record<string, CardPolicy>>;
  /** Channel variable a dialplan sets to the recording path (besides RECORD_STOP). */
  recordVariable: string | null;
  /**
   * An incoming call is registered when the first employee's phone rings, or this long
   * after the trunk leg appeared (IVR, queue), whichever comes first (then SHOW=0, and
   * the card is shown to each phone as it rings).
   */
  registerHoldMs: number;
  /** Which recordings of a call are attached (a transfer can make several). */
  chooseRecordings: 'all' | 'first' | 'last';
}

export const defaultModelConfig: ModelConfig = {
  trunkProfiles: ['external'],
  trunkIps: [],
  didSource: 'sip_to_user',
  lines: {},
  gatewayLines: {},
  numberRules: [],
  sendInternal: false,
  crmCreateIncoming: true,
  crmCreateOutgoing: true,
  addToChat: true,
  cardPolicy: 'ring',
  cardPolicyByExtension: {},
  recordVariable: 'b24_record_path',
  registerHoldMs: 300,
  chooseRecordings: 'all',
};
