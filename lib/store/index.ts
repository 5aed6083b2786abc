/** Durable state: the `Store` interface, its SQLite and PostgreSQL implementations, and which one runs. */
export * from './store.js';
export { SqliteStore } from './sqlite.js';
export { PgStore } from './pg.js';
export { openStore, storeLabel, type StoreAt } from './open.js';
export { inspectDatabase } from './pg-schema.js';
export { leaseStates, type LeaseState } from './pg-lease.js';
