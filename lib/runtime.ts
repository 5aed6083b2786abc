/**
 * The running service as bin/ assembles it: one store, the switch and portal units, the
 * HTTP side. Only the shape lives here (the demo and the tests hold one); bin/compose.ts
 * builds it.
 */
import type { FastifyInstance } from 'fastify';
import type { ConfigShape } from './config.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Store } from './store/store.js';
import type { PortalUnit } from './portal/unit.js';
import type { SwitchUnit } from './switch/unit.js';
import type { Tenant } from './tenancy/tenants.js';
import type { TenantRouter } from './tenancy/router.js';
import type { ClusterHealth, Shared } from './cluster/cluster.js';

export interface Runtime {
  readonly config: Readonly<ConfigShape>;
  readonly log: Logger;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly app: FastifyInstance;
  /** The first portal (the only one without FSB24_TENANTS). */
  readonly portal: PortalUnit;
  /** Every portal, in the order of the tenant map, and the map's entries. */
  readonly portals: readonly PortalUnit[];
  readonly tenants: readonly Tenant[];
  /** Which portal each call goes to (waiting calls, unmatched ones). */
  readonly router: TenantRouter;
  /** The first switch (the only one without FSB24_SWITCHES). */
  readonly switch: SwitchUnit;
  /** Several instances on one database: which leases this one holds, and each change of them; null: alone. */
  readonly cluster: { health(): ClusterHealth; onChange(fn: (h: ClusterHealth) => void): void } | null;
  /** Every switch, in the order of FSB24_SWITCHES. */
  readonly switches: readonly SwitchUnit[];
  /** The HTTP side's listen address, once started. */
  readonly url: string;
  health(): Promise<{ ok: boolean; body: Record<string, unknown> }>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * What `kill -9` leaves behind, played in-process (tests): timers and sockets dropped, the
   * stores closed at once; no final write, nothing flushed, replies in flight lost.
   */
  crash(): void;
}

export interface ComposeOptions {
  config: Readonly<ConfigShape>;
  log: Logger;
  /** Routes of a test or the demo, added to the HTTP side. */
  extraRoutes?: (app: FastifyInstance) => void;
  recordingsStableMs?: number;
  /**
   * A database shared with other instances (leases, LISTEN/NOTIFY, claims): the switch and each
   * portal run where their lease is held. bin/ builds it from FSB24_DATABASE_URL; tests may pass one.
   */
  shared?: Shared;
}

/** bin/compose.ts's signature, handed to the demo and the test stack. */
export type Compose = (o: ComposeOptions) => Runtime;
