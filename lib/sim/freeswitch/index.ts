export { startFreeswitchSim, FreeswitchSim, type FreeswitchSimOptions, type ReceivedCommand } from './server.js';
export { SimSwitch, type SimSwitchOptions, type ExtensionSetup, type PstnMode } from './switch.js';
export {
  inboundCall,
  outboundCall,
  internalCall,
  type InboundOptions,
  type OutboundOptions,
  type ScenarioResult,
} from './scenarios.js';
export { killLeg } from './api.js';
export { endBridge } from './flows.js';
export { wavBytes } from './wav.js';
export { parseDialplan, hunt, expand, urlEncode, DialplanError, type DpExtension } from './dialplan.js';
export { dialplanContext, curlGet, type DialplanPlan, type DialplanOptions, type CurlClock } from './dialplan-run.js';
