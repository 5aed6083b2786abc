/** The captures in ../shared/fixtures/esl, read as a byte stream (fixtures/README.md). */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameParser, frameHeader, type Frame } from '../../lib/esl/frame.js';
import { decodeJsonEvent, decodePlainEvent, type EslEvent } from '../../lib/esl/codec.js';

const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURES_DIR = resolve(here, '../../../shared/fixtures/esl');
export const fixturesAvailable = existsSync(FIXTURES_DIR);

export function fixtureFiles(): string[] {
  const top = readdirSync(FIXTURES_DIR).filter((f) => f.endsWith('.txt'));
  const legacy = readdirSync(join(FIXTURES_DIR, 'legacy')).map((f) => `legacy/${f}`);
  return [...top, ...legacy];
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
