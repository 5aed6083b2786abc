/**
 * Effects as Bitrix24 commands: the parameters each method takes (bitrix24-telephony.md
 * §4, §5, §7), the user each extension maps to, and the `$result[...]` reference that
 * lets a command ride in the same batch as the register it depends on.
 */
import qs from 'qs';
import type { Effect, FinishEffect, RegisterEffect } from '../calls/effects.js';
import { B24Error } from '../bitrix24/errors.js';
import type { UserDirectory } from '../bitrix24/directory.js';
import type { Job } from '../store/store.js';
import { coalesceCards } from './cards.js';

export interface Command {
  key: string;
  method: string;
  params: Record<string, unknown>;
  /** The register command whose CALL_ID this one takes, when it rides in the same batch. */
  dependsOn: string | null;
  jobs: Job[];
  onResult: (result: unknown) => void;
}

export interface CommandContext {
  directory: UserDirectory;
  defaultUserId: number;
  setCallId: (call: string, b24CallId: string, userId: number | null) => void;
}

export function registerCommand(ctx: CommandContext, key: string, job: Job, e: RegisterEffect): Command {
  const forceDefault = (e as RegisterEffect & { forceDefault?: boolean }).forceDefault === true;
  const userId = forceDefault ? ctx.defaultUserId : ctx.directory.userFor(e.extension) ?? ctx.defaultUserId;
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
    key, method: 'telephony.externalcall.register', params, dependsOn: null, jobs: [job],
    onResult: (r) => {
      const id = (r as { CALL_ID?: unknown } | null)?.CALL_ID;
      if (typeof id !== 'string' || id === '') throw new B24Error('B24_ERR_BAD_REPLY', 'register: no CALL_ID in the reply', { method: 'telephony.externalcall.register' });
      ctx.setCallId(job.call, id, userId);
    },
  };
}

/** The employee who talked last, else the first ringing one that maps, else the default user. */
export function finishCommand(ctx: CommandContext, key: string, job: Job, e: FinishEffect, callId: string, dependsOn: string | null): Command {
  let userId: number | null = ctx.directory.userFor(e.extension) ?? e.userId ?? null;
  if (userId === null) for (const c of e.candidates) if ((userId = ctx.directory.userFor(c)) !== null) break;
  const params: Record<string, unknown> = {
    CALL_ID: callId,
    USER_ID: userId ?? ctx.defaultUserId,
    DURATION: e.duration,
    STATUS_CODE: e.status,
    ADD_TO_CHAT: e.addToChat ? 1 : 0,
  };
  if (e.reason) params.FAILED_REASON = e.reason;
  return { key, method: 'telephony.externalcall.finish', params, dependsOn, jobs: [job], onResult: () => undefined };
}

/** A run of show/hide for one call as at most one hide and one show with USER_ID arrays; none if they cancel out. */
export function cardCommands(ctx: CommandContext, group: Job[], callId: string, dependsOn: string | null): Command[] {
  const ops = group.map((j) => {
    const e = j.effect as Extract<Effect, { kind: 'show' | 'hide' }>;
    const users = e.extensions.map((x) => ctx.directory.userFor(x)).filter((u): u is number => u !== null);
    return { kind: e.kind, users };
  });
  const { show, hide } = coalesceCards(ops);
  const out: Command[] = [];
  // both commands carry the whole group: the group is done when the last lands
  if (hide.length > 0) out.push({ key: `h${group[0]!.id}`, method: 'telephony.externalcall.hide', params: { CALL_ID: callId, USER_ID: hide }, dependsOn, jobs: show.length > 0 ? [] : group, onResult: () => undefined });
  if (show.length > 0) out.push({ key: `s${group[0]!.id}`, method: 'telephony.externalcall.show', params: { CALL_ID: callId, USER_ID: show }, dependsOn, jobs: group, onResult: () => undefined });
  return out;
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
