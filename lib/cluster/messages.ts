/**
 * What instances say to a seat's holder, typed at the edge (a message comes from the
 * database: it is read like any outside input). A switch's holder places originates and
 * hears routed callers; a portal's holder handles its events and answers routing lookups.
 * Forwarded events carry no secret: the receiving instance checked the application token. Two
 * messages carry one because the holder must use it: an install's tokens (the holder proves them
 * on the portal and stores them) and a browser connect's authorization code (the holder exchanges it).
 */
import type { BackgroundJob } from '../esl/client.js';
import { EslJobLost } from '../esl/errors.js';
import type { EventAuth, ParsedEvent } from '../bitrix24/event-body.js';
import type { RouteAnswer } from '../routing/responsible.js';
import type { Handler } from './mailbox.js';
import { Fsb24Error } from '../errors.js';

export const SWITCH_LEASE = (name: string): string => `switch:${name}`;
export const PORTAL_LEASE = (host: string): string => `portal:${host}`;
/** Held while a portal's token is refreshed (the refresh token rotates: one refresh at a time). */
export const REFRESH_LEASE = (host: string): string => `refresh:${host}`;
/** Held during a pass over FreeSWITCH's CDR spool (never two passes at once, even during a handover). */
export const CDR_SPOOL_LEASE = 'cdr:spool';
/** The channel a portal's holder wakes its outbox on. */
export const OUTBOX_CHANNEL = (host: string): string => `outbox:${host}`;

export class BadMessage extends Fsb24Error<'CLUSTER_ERR_MESSAGE', Record<string, never>> {
  override readonly name = 'BadMessage';
  constructor(message: string) {
    super('CLUSTER_ERR_MESSAGE', message, {});
  }
}

/** Nobody holding the lease took the work (a switch nobody listens to: the call cannot be placed). */
export class NoHolder extends Fsb24Error<'CLUSTER_ERR_NO_HOLDER', { lease: string; holder: string | null }> {
  override readonly name = 'NoHolder';
  constructor(lease: string, holder: string | null, message: string) {
    super('CLUSTER_ERR_NO_HOLDER', message, { lease, holder });
  }
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new BadMessage(`${what}: not an object`);
  return v as Record<string, unknown>;
}

function text(o: Record<string, unknown>, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new BadMessage(`${what}: ${key} is not text`);
  return v;
}

export interface OriginateAsk {
  cmd: string;
  jobUuid: string;
}

export function parseOriginate(v: unknown): OriginateAsk {
  const o = record(v, 'originate');
  const cmd = text(o, 'cmd', 'originate');
  // the sender built it from whitelisted values; the holder sends nothing but an originate
  if (!cmd.startsWith('originate ') || /[\r\n]/.test(cmd)) throw new BadMessage('originate: not an originate command');
  return { cmd, jobUuid: text(o, 'jobUuid', 'originate') };
}

/** A BackgroundJob as it crosses the database. */
export type WireJob = { ok: boolean; body: string } | { ok: false; lost: { code: string; message: string } };

export function toWire(job: BackgroundJob): WireJob {
  if (job.lost) return { ok: false, lost: { code: job.lost.code, message: job.lost.message } };
  return { ok: job.ok, body: job.body };
}

export function fromWire(v: unknown, jobUuid: string): BackgroundJob {
  const o = record(v, 'originate result');
  if (o.lost !== undefined) {
    const l = record(o.lost, 'originate result');
    const code = l.code === 'ESL_ERR_JOB_TIMEOUT' ? 'ESL_ERR_JOB_TIMEOUT' : 'ESL_ERR_CONNECTION_LOST';
    return { jobUuid, ok: false, lost: new EslJobLost(code, jobUuid, text(l, 'message', 'originate result')) };
  }
  if (typeof o.ok !== 'boolean') throw new BadMessage('originate result: ok is not a boolean');
  return { jobUuid, ok: o.ok, body: text(o, 'body', 'originate result') };
}

/** Is this phone registered (in its directory) on the switch? */
export function parsePhoneAsk(v: unknown): { extension: string; domain: string | null } {
  const o = record(v, 'phone');
  const domain = o.domain;
  if (domain !== null && domain !== undefined && typeof domain !== 'string')
    throw new BadMessage('phone: domain is not text');
  return { extension: text(o, 'extension', 'phone'), domain: domain ?? null };
}

export interface RoutedTell {
  caller: string;
  extension: string;
  /** The portal the lookup was answered for (its host). */
  portal: string;
}

export function parseRouted(v: unknown): RoutedTell {
  const o = record(v, 'routed');
  return {
    caller: text(o, 'caller', 'routed'),
    extension: text(o, 'extension', 'routed'),
    portal: text(o, 'portal', 'routed'),
  };
}

/** An event of Bitrix24 without its secrets (the tokens stay with the instance that received it). */
export function eventToWire(ev: ParsedEvent): unknown {
  return { event: ev.event, data: ev.data, domain: ev.auth.domain, memberId: ev.auth.memberId };
}

export function parseEventMessage(v: unknown): ParsedEvent {
  const o = record(v, 'event');
  const data: Record<string, string> = {};
  for (const [k, x] of Object.entries(record(o.data, 'event data'))) if (typeof x === 'string') data[k] = x;
  return {
    event: text(o, 'event', 'event'),
    data,
    auth: { domain: text(o, 'domain', 'event'), memberId: text(o, 'memberId', 'event'), applicationToken: '' },
  };
}

export function parseRouteAsk(v: unknown): { caller: string } {
  return { caller: text(record(v, 'route'), 'caller', 'route') };
}

export function parseRouteAnswer(v: unknown): RouteAnswer {
  const o = record(v, 'route answer');
  const ext = o.extension;
  const user = o.userId;
  return {
    extension: typeof ext === 'string' ? ext : null,
    userId: typeof user === 'number' ? user : null,
    reason: typeof o.reason === 'string' ? o.reason : '',
    cached: o.cached === true,
  };
}

/** One handler per message kind; an unknown kind is refused. */
export function dispatch(handlers: Record<string, (body: unknown) => Promise<unknown>>): Handler {
  return async (kind, body) => {
    const h = handlers[kind];
    if (!h) throw new BadMessage(`unknown message ${kind}`);
    return h(body);
  };
}

function optText(o: Record<string, unknown>, key: string, what: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BadMessage(`${what}: ${key} is not text`);
  return v;
}

function optNumber(o: Record<string, unknown>, key: string, what: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new BadMessage(`${what}: ${key} is not a number`);
  return v;
}

/** An install (ONAPPINSTALL) with its tokens, for the portal's holder to prove and store. */
export function installToWire(ev: ParsedEvent): unknown {
  return { event: ev.event, data: ev.data, auth: ev.auth };
}

export function parseInstall(v: unknown): ParsedEvent {
  const o = record(v, 'install');
  const a = record(o.auth, 'install auth');
  const what = 'install auth';
  const auth: EventAuth = {
    domain: text(a, 'domain', what),
    memberId: text(a, 'memberId', what),
    applicationToken: text(a, 'applicationToken', what),
  };
  for (const k of ['accessToken', 'refreshToken', 'clientEndpoint', 'serverEndpoint', 'scope'] as const) {
    const x = optText(a, k, what);
    if (x !== undefined) auth[k] = x;
  }
  for (const k of ['expires', 'userId'] as const) {
    const x = optNumber(a, k, what);
    if (x !== undefined) auth[k] = x;
  }
  const data: Record<string, string> = {};
  for (const [k, x] of Object.entries(record(o.data, 'install data'))) if (typeof x === 'string') data[k] = x;
  if (text(o, 'event', 'install') !== 'ONAPPINSTALL') throw new BadMessage('install: not an ONAPPINSTALL');
  return { event: 'ONAPPINSTALL', data, auth };
}

/** The holder's verdict on an install: null, or why it was refused (a 401 where it arrived). */
export function parseInstallAnswer(v: unknown): { refused: string | null } {
  const o = record(v, 'install answer');
  return { refused: optText(o, 'refused', 'install answer') ?? null };
}

/** A browser connect's authorization code, for the portal's holder to exchange (lib/http/connect.ts). */
export function parseConnectGrant(v: unknown): { code: string; memberId: string | undefined } {
  const o = record(v, 'connect');
  return { code: text(o, 'code', 'connect'), memberId: optText(o, 'memberId', 'connect') };
}

/** The page the holder's connect ended with. */
export function parseConnectPage(v: unknown): { status: number; title: string; lines: string[] } {
  const o = record(v, 'connect page');
  const status = optNumber(o, 'status', 'connect page');
  if (status === undefined || status < 100 || status > 599) throw new BadMessage('connect page: bad status');
  const lines = o.lines;
  if (!Array.isArray(lines) || !lines.every((l): l is string => typeof l === 'string'))
    throw new BadMessage('connect page: lines are not text');
  return { status, title: text(o, 'title', 'connect page'), lines };
}
