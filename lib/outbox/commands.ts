/**
 * Effects as Bitrix24 commands, plain data: the parameters each method takes
 * (bitrix24-telephony.md §4-§7), the user each extension maps to, the `$result[...]`
 * reference that lets a command ride in the same batch as the register it depends on,
 * and the tier that orders a request: cards of ringing calls, then hides and
 * finishes, then recordings.
 */
import qs from 'qs';
import type { AttachEffect, Effect, FinishEffect, RegisterEffect } from '../calls/effects.js';
import type { Job } from '../store/store.js';
import { coalesceCards } from './cards.js';

/** 0: registers and shows of ringing calls; 1: hides and finishes; 2: recordings. */
export type Tier = 0 | 1 | 2;

/** A recording ready to go: by link, inline (FILE_CONTENT in the request) or two-step (uploadUrl). */
export interface AttachPayload {
  mode: 'url' | 'inline' | 'upload';
  /** The confined real path and its size when checked. */
  path: string;
  name: string;
  size: number;
  /** url mode: the signed link Bitrix24 fetches. */
  url?: string;
}

export type CommandKind = 'register' | 'show' | 'hide' | 'finish' | 'attach';

export interface Command {
  key: string;
  kind: CommandKind;
  method: string;
  params: Record<string, unknown>;
  call: string;
  /** The register command whose CALL_ID this one takes, when it rides in the same batch. */
  dependsOn: string | null;
  /** Jobs done once this command landed (a hide sent before a finish carries none). */
  jobs: Job[];
  tier: Tier;
  /** register/finish: the USER_ID sent. */
  userId?: number;
  /** The hide that precedes this finish job (id): remembered once it landed. */
  hidesFor?: number;
  attach?: AttachPayload;
}

export interface CommandContext {
  /** Extension → Bitrix24 user, null when it maps to nobody. */
  users: (extension: string | null) => number | null;
  defaultUserId: number;
}

export const METHOD = {
  register: 'telephony.externalcall.register',
  show: 'telephony.externalcall.show',
  hide: 'telephony.externalcall.hide',
  finish: 'telephony.externalcall.finish',
  attach: 'telephony.externalcall.attachrecord',
} as const;

/** The CALL_ID a command uses: known, or the register's in the same batch. */
export function callIdRef(callId: string | null, registerKey: string | null): string {
  return callId ?? `$result[${registerKey}][CALL_ID]`;
}

export function registerCommand(ctx: CommandContext, job: Job, e: RegisterEffect, forDefaultUser: boolean): Command {
  const userId = forDefaultUser ? ctx.defaultUserId : (ctx.users(e.extension) ?? ctx.defaultUserId);
  const params: Record<string, unknown> = {
    USER_ID: userId,
    PHONE_NUMBER: e.phone,
    TYPE: e.type,
    CALL_START_DATE: e.startIso,
    CRM_CREATE: e.crmCreate ? 1 : 0,
    SHOW: e.show ? 1 : 0,
    EXTERNAL_CALL_ID: e.externalCallId,
  };
  if (e.line) params.LINE_NUMBER = e.line;
  if (e.crmEntityType && e.crmEntityId) {
    params.CRM_ENTITY_TYPE = e.crmEntityType;
    params.CRM_ENTITY_ID = e.crmEntityId;
  }
  return {
    key: `r${job.id}`,
    kind: 'register',
    method: METHOD.register,
    params,
    call: job.call,
    dependsOn: null,
    jobs: [job],
    tier: 0,
    userId,
  };
}

/** The user a finish names: who talked last, else the first ringing one that maps, else the default user. */
export function finishUser(ctx: CommandContext, e: FinishEffect): number {
  let userId: number | null = ctx.users(e.extension) ?? e.userId ?? null;
  if (userId === null) for (const c of e.candidates) if ((userId = ctx.users(c)) !== null) break;
  return userId ?? ctx.defaultUserId;
}

export function finishCommand(
  ctx: CommandContext,
  job: Job,
  e: FinishEffect,
  callId: string | null,
  registerKey: string | null,
): Command {
  const userId = finishUser(ctx, e);
  const params: Record<string, unknown> = {
    CALL_ID: callIdRef(callId, registerKey),
    USER_ID: userId,
    DURATION: e.duration,
    STATUS_CODE: e.status,
    ADD_TO_CHAT: e.addToChat ? 1 : 0,
  };
  if (e.reason) params.FAILED_REASON = e.reason;
  return {
    key: `f${job.id}`,
    kind: 'finish',
    method: METHOD.finish,
    params,
    call: job.call,
    dependsOn: callId ? null : registerKey,
    jobs: [job],
    tier: 1,
    userId,
  };
}

/** The hide that closes the card for everyone else who still sees it, sent just before a finish. */
export function hideBeforeFinish(finish: Command, users: number[]): Command {
  return {
    key: `x${finish.jobs[0]!.id}`,
    kind: 'hide',
    method: METHOD.hide,
    params: { CALL_ID: finish.params.CALL_ID, USER_ID: users },
    call: finish.call,
    dependsOn: finish.dependsOn,
    jobs: [],
    tier: 1,
    hidesFor: finish.jobs[0]!.id,
  };
}

/** A run of show/hide for one call as at most one hide and one show with USER_ID arrays; none if they cancel out. */
export function cardCommands(
  ctx: CommandContext,
  group: Job[],
  callId: string | null,
  registerKey: string | null,
): Command[] {
  const ops = group.map((j) => {
    const e = j.effect as Extract<Effect, { kind: 'show' | 'hide' }>;
    const users = e.extensions.map((x) => ctx.users(x)).filter((u): u is number => u !== null);
    return { kind: e.kind, users };
  });
  const { show, hide } = coalesceCards(ops);
  const out: Command[] = [];
  const base = { call: group[0]!.call, dependsOn: callId ? null : registerKey };
  const ref = callIdRef(callId, registerKey);
  // both commands carry the whole group: the group is done when the last lands
  if (hide.length > 0) {
    out.push({
      ...base,
      key: `h${group[0]!.id}`,
      kind: 'hide',
      method: METHOD.hide,
      params: { CALL_ID: ref, USER_ID: hide },
      jobs: show.length > 0 ? [] : group,
      tier: 1,
    });
  }
  if (show.length > 0) {
    out.push({
      ...base,
      key: `s${group[0]!.id}`,
      kind: 'show',
      method: METHOD.show,
      params: { CALL_ID: ref, USER_ID: show },
      jobs: group,
      tier: 0,
    });
  }
  return out;
}

export function attachCommand(job: Job, e: AttachEffect, callId: string, a: AttachPayload): Command {
  const params: Record<string, unknown> = { CALL_ID: callId, FILENAME: a.name };
  if (a.mode === 'url') params.RECORD_URL = a.url;
  // inline: FILE_CONTENT is read from disk when the request is built, never held in a plan
  return {
    key: `a${job.id}`,
    kind: 'attach',
    method: METHOD.attach,
    params,
    call: e.call,
    dependsOn: null,
    jobs: [job],
    tier: 2,
    attach: a,
  };
}

/** Bytes an inline recording adds to a request body (base64, a few escapes). */
export function inlineBytes(a: AttachPayload | undefined): number {
  return a?.mode === 'inline' ? Math.ceil(4 * Math.ceil(a.size / 3) * 1.05) + 64 : 0;
}

/** `method?query` for a batch command; a `$result[...]` reference stays unencoded. */
export function batchCommand(c: { method: string; params: Record<string, unknown> }): string {
  const refs: string[] = [];
  const plain: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c.params)) {
    if (typeof v === 'string' && v.startsWith('$result[')) refs.push(`${k}=${v}`);
    else plain[k] = v;
  }
  const query = [qs.stringify(plain, { encodeValuesOnly: true }), ...refs].filter(Boolean).join('&');
  return `${c.method}?${query}`;
}
