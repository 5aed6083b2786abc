/** Predicates on the emulated portal's journal shared by the integration tests. */
import type { PortalRequest } from '../../lib/sim/bitrix24/index.js';

/** A request (or batch sub-command) of method `m` the portal carried out (HTTP 200). */
export const ok =
  (m: string) =>
  (r: PortalRequest): boolean =>
    r.method === m && r.status === 200;
