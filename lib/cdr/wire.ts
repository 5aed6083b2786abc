/**
 * A CDR leg as it crosses the database between instances (a CDR posted to one instance is
 * taken by the owner of the back-fill): already parsed where it arrived (./parse.ts), read
 * again here as any outside input, field by field, into a `CdrLeg` or a `CdrParseError`.
 */
import { UUID } from '../patterns.js';
import { CdrParseError, type CdrLeg } from './parse.js';

function text(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new CdrParseError(`CDR message: ${key} is not text`);
  return v;
}

function micros(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new CdrParseError(`CDR message: ${key} is no time`);
  return v;
}

function texts(o: Record<string, unknown>, key: string): string[] {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string'))
    throw new CdrParseError(`CDR message: ${key} is not a list of text`);
  return v;
}

export function cdrLegFromWire(v: unknown): CdrLeg {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CdrParseError('CDR message: not an object');
  const o = v as Record<string, unknown>;
  const uuid = text(o, 'uuid');
  if (!UUID.test(uuid)) throw new CdrParseError('CDR message: uuid is not a uuid');
  const originator = o.originator === null ? null : text(o, 'originator');
  if (originator !== null && !UUID.test(originator)) throw new CdrParseError('CDR message: originator is not a uuid');
  const direction = o.direction;
  if (direction !== 'inbound' && direction !== 'outbound') throw new CdrParseError('CDR message: bad direction');
  const rawVars = o.vars;
  if (!rawVars || typeof rawVars !== 'object' || Array.isArray(rawVars))
    throw new CdrParseError('CDR message: vars is not an object');
  const vars: Record<string, string> = {};
  for (const [k, x] of Object.entries(rawVars)) {
    if (typeof x !== 'string') throw new CdrParseError(`CDR message: variable ${k} is not text`);
    vars[k] = x;
  }
  return {
    uuid,
    originator,
    direction,
    channelName: text(o, 'channelName'),
    callerNumber: text(o, 'callerNumber'),
    destination: text(o, 'destination'),
    startUs: micros(o, 'startUs'),
    answerUs: micros(o, 'answerUs'),
    bridgeUs: micros(o, 'bridgeUs'),
    endUs: micros(o, 'endUs'),
    hangupCause: text(o, 'hangupCause'),
    partners: texts(o, 'partners'),
    recordings: texts(o, 'recordings'),
    vars,
  };
}
