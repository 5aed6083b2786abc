/**
 * The captures in test/fixtures/esl (a real FreeSWITCH 1.11.1; test/fixtures/esl/README.md),
 * read as a byte stream. They are part of the repository: a missing one is an error, never a skip.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameParser, frameHeader, type Frame } from '../../lib/esl/frame.js';
import { decodeJsonEvent, decodePlainEvent, type EslEvent } from '../../lib/esl/codec.js';

const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURES_DIR = resolve(here, '../fixtures/esl');
export const CDR_FIXTURES_DIR = resolve(here, '../fixtures/cdr');

/** Every capture: the top folder, legacy/ and tenants/, as paths relative to FIXTURES_DIR. */
export function fixtureFiles(): string[] {
  const txt = (sub: string): string[] =>
    readdirSync(join(FIXTURES_DIR, sub))
      .filter((f) => f.endsWith('.txt'))
      .map((f) => (sub ? `${sub}/${f}` : f));
  return [...txt(''), ...txt('legacy'), ...txt('tenants')].sort();
}

/** The captures the READMEs describe, with the sha256 they give (relative to FIXTURES_DIR). */
export function documentedFixtures(): Map<string, string> {
  const out = new Map<string, string>();
  const top = readFileSync(join(FIXTURES_DIR, 'README.md'), 'utf8');
  for (const m of top.matchAll(/^#### `esl\/([^`]+)` \(sha256 `([0-9a-f]{64})`\)/gm))
    out.set(m[1] as string, m[2] as string);
  const tenants = readFileSync(join(FIXTURES_DIR, 'tenants', 'README.md'), 'utf8');
  for (const m of tenants.matchAll(/^\| `([^`/]+\.txt)` \|.*\| `([0-9a-f]{64})` \|$/gm))
    out.set(`tenants/${m[1]}`, m[2] as string);
  return out;
}

export function fixtureBytes(name: string): Buffer {
  return readFileSync(join(FIXTURES_DIR, name));
}

export function fixtureFrames(name: string): Frame[] {
  return new FrameParser().push(fixtureBytes(name));
}

export function fixtureEvents(name: string): EslEvent[] {
  const out: EslEvent[] = [];
  for (const f of fixtureFrames(name)) {
    const type = frameHeader(f, 'Content-Type');
    if (type === 'text/event-plain' && f.body) out.push(decodePlainEvent(f.body));
    if (type === 'text/event-json' && f.body) out.push(decodeJsonEvent(f.body));
  }
  return out;
}
