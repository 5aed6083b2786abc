/**
 * Legs whose call cannot be settled yet (its A leg has not come, or a sibling it names is
 * late), kept durably in the store's key-value table: one key per call and an index of them.
 * A leg is written here before FreeSWITCH is told 200 or its spool file is moved.
 */
import type { CdrLeg } from './parse.js';

/** The store as the back-fill uses it; Promise-typed, whatever the store underneath. */
export interface CdrKv {
  get<T>(key: string): Promise<T | null>;
  set(key: string, value: unknown): Promise<void>;
}

const INDEX = 'cdr.held';
const groupKey = (group: string): string => `cdr.held.${group}`;

export class HeldGroups {
  /** call (A leg uuid) → when its first leg was held (ms). Mirrors the stored index. */
  private index = new Map<string, number>();

  constructor(private readonly kv: CdrKv) {}

  /** Read the index a previous run left. */
  async load(): Promise<void> {
    const stored = (await this.kv.get<Record<string, number>>(INDEX)) ?? {};
    this.index = new Map(Object.entries(stored).filter(([, at]) => typeof at === 'number'));
  }

  get size(): number {
    return this.index.size;
  }

  groups(): Array<[string, number]> {
    return [...this.index];
  }

  since(group: string): number | undefined {
    return this.index.get(group);
  }

  async legs(group: string): Promise<CdrLeg[]> {
    if (!this.index.has(group)) return [];
    return (await this.kv.get<CdrLeg[]>(groupKey(group))) ?? [];
  }

  /** Durable when it resolves: the group's legs (a leg sent twice replaces itself), the group indexed. */
  async add(group: string, legs: readonly CdrLeg[], now: number): Promise<CdrLeg[]> {
    const held = await this.legs(group);
    const merged = [...held.filter((h) => !legs.some((l) => l.uuid === h.uuid)), ...legs];
    await this.kv.set(groupKey(group), merged);
    if (!this.index.has(group)) {
      this.index.set(group, now);
      await this.saveIndex();
    }
    return merged;
  }

  async release(group: string): Promise<void> {
    if (!this.index.has(group)) return;
    this.index.delete(group);
    await this.saveIndex();
    await this.kv.set(groupKey(group), null);
  }

  private async saveIndex(): Promise<void> {
    await this.kv.set(INDEX, Object.fromEntries(this.index));
  }
}
