/** Durable state: the `Store` interface and its SQLite implementation. */
export * from './store.js';
export { SqliteStore } from './sqlite.js';
