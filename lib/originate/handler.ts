/**
 * Click-to-call (ONEXTERNALCALLSTART) and callback requests (ONEXTERNALCALLBACKSTART)
 * become `bgapi originate` commands (bitrix24-telephony.md §10.3, §10.4, §12, §13).
 * Input is checked before the 200 goes out (a bad value changes nothing); the work,
 * including every failure ending the Bitrix24 call honestly, happens after.
 */
import { randomUUID } from 'node:crypto';
import type { ConfigShape } from '../config.js';
import type { Logger } from '../log.js';
import type { BackgroundJob } from '../esl/client.js';
import type { UserDirectory } from '../bitrix24/directory.js';
import type { RouteAnswer } from '../routing/responsible.js';
import type { Store } from '../store/store.js';
import type { ParsedEvent } from '../bitrix24/event-body.js';
import { BadEvent } from '../bitrix24/event-body.js';
import {
  UnsafeValue,
  callId as checkCallId,
  callbackCommand,
  clickToCallCommand,
  configName,
  extension as checkExt,
  phoneNumber,
} from './build.js';
import { outgoingStatus } from '../calls/status.js';
import type { Effect } from '../calls/effects.js';
import { realClock, type Clock } from '../clock.js';

interface ClickData {
  kind: 'click2call';
  callId: string;
  userId: number;
  client: string;
  line: string | null;
}

interface CallbackData {
  kind: 'callback';
  client: string;
  line: string | null;
  text: string;
  voice: string;
  crmEntityType: string | null;
  crmEntityId: number | null;
}

/** What click-to-call and callbacks need, and nothing more (bin/ wires them). */
export interface CallEventPorts {
  config: Readonly<ConfigShape>;
  log: Logger;
  /** CALL_IDs already handled (a repeated event places no second call): durable. */
  store: Pick<Store, 'claim'>;
  directory: Pick<UserDirectory, 'extensionOf' | 'userFor' | 'refresh'>;
  /** `bgapi <cmd>` with our Job-UUID, on the switch `locate` chose (none named: the one switch). */
  originate: (cmd: string, jobUuid: string, switchName?: string) => Promise<BackgroundJob>;
  /**
   * Several switches: the one the employee's phone is on (registered in the domain, else in
   * its directory), or the status and reason to finish the call with when none has it.
   * Absent: the one switch, unasked.
   */
  locate?: (extension: string, domain: string | null) => Promise<PhoneSwitch>;
  awaitCallId: (call: string, timeoutMs: number) => Promise<string | null>;
  /** Resolves once the effects are durable. */
  submit: (effects: Effect[]) => Promise<void>;
  route: (phone: string) => Promise<RouteAnswer>;
  /** Stamps on handled CALL_IDs (default: the wall clock). */
  clock?: Pick<Clock, 'now'>;
  /** A LINE_NUMBER of another portal of the tenant map: the event is refused (default: none is). */
  foreignLine?: (line: string) => boolean;
}

/** Where `locate` says to ring the employee. */
export type PhoneSwitch = { switch: string } | { switch: null; status: string; reason: string };

export class CallEvents {
  constructor(private readonly svc: CallEventPorts) {}

  private now(): number {
    return (this.svc.clock ?? realClock).now();
  }

  /** Checked before the 200: anything that would reach an originate string. */
  validate(ev: ParsedEvent): ClickData | CallbackData | null {
    try {
      if (ev.event === 'ONEXTERNALCALLSTART') {
        const d = ev.data;
        const userId = Number(d.USER_ID);
        if (!d.CALL_ID) throw new BadEvent('missing field: data[CALL_ID]');
        if (!Number.isInteger(userId) || userId <= 0) throw new BadEvent('data[USER_ID] must be a user id');
        const raw = d.PHONE_NUMBER_INTERNATIONAL || d.PHONE_NUMBER;
        if (!raw) throw new BadEvent('missing field: data[PHONE_NUMBER]');
        // both number fields are checked, whichever is used
        if (d.PHONE_NUMBER) phoneNumber('data[PHONE_NUMBER]', d.PHONE_NUMBER);
        if (d.PHONE_NUMBER_INTERNATIONAL) phoneNumber('data[PHONE_NUMBER_INTERNATIONAL]', d.PHONE_NUMBER_INTERNATIONAL);
        return {
          kind: 'click2call',
          callId: checkCallId('data[CALL_ID]', d.CALL_ID),
          userId,
          client: phoneNumber('data[PHONE_NUMBER]', raw),
          line: d.LINE_NUMBER ? phoneNumber('data[LINE_NUMBER]', d.LINE_NUMBER) : null,
        };
      }
      if (ev.event === 'ONEXTERNALCALLBACKSTART') {
        const d = ev.data;
        if (!d.PHONE_NUMBER) throw new BadEvent('missing field: data[PHONE_NUMBER]');
        const entityId = Number(d.CRM_ENTITY_ID);
        const entityType =
          d.CRM_ENTITY_TYPE && /^(CONTACT|COMPANY|LEAD|DEAL)$/.test(d.CRM_ENTITY_TYPE) ? d.CRM_ENTITY_TYPE : null;
        return {
          kind: 'callback',
          client: phoneNumber('data[PHONE_NUMBER]', d.PHONE_NUMBER),
          line: d.LINE_NUMBER ? phoneNumber('data[LINE_NUMBER]', d.LINE_NUMBER) : null,
          text: d.TEXT ?? '',
          voice: d.VOICE && /^[A-Za-z0-9_.-]{1,64}$/.test(d.VOICE) ? d.VOICE : 'default',
          crmEntityType: entityType,
          crmEntityId: entityType && Number.isInteger(entityId) && entityId > 0 ? entityId : null,
        };
      }
      return null;
    } catch (err) {
      if (err instanceof UnsafeValue) throw new BadEvent(err.message, { cause: err });
      throw err;
    }
  }

  /**
   * `validate`, before the 200. A click-to-call refused here was registered by Bitrix24
   * already: its CALL_ID is finished there with the reason (through the outbox, once),
   * or the employee's card would hang on a call that never happens.
   */
  async check(ev: ParsedEvent): Promise<void> {
    try {
      const d = this.validate(ev);
      if (d?.line && this.svc.foreignLine?.(d.line)) throw new BadEvent('the line given belongs to another portal');
    } catch (err) {
      if (err instanceof BadEvent && ev.event === 'ONEXTERNALCALLSTART') await this.refuseClick(ev.data, err.message);
      throw err;
    }
  }

  private async refuseClick(d: Record<string, string>, reason: string): Promise<void> {
    let b24CallId: string;
    try {
      b24CallId = checkCallId('data[CALL_ID]', d.CALL_ID ?? '');
    } catch {
      return; // no CALL_ID Bitrix24 could have made: nothing to finish
    }
    const key = randomUUID();
    if (!(await this.svc.store.claim(`c2c:${b24CallId}`, { aLeg: key, at: this.now(), refused: reason }))) return;
    const userId = Number(d.USER_ID);
    this.svc.log.warn({ mod: 'click2call', b24CallId, reason }, 'click-to-call refused; finishing its Bitrix24 call');
    const status = /NUMBER/.test(reason) ? '484' : 'OTHER';
    const who = Number.isInteger(userId) && userId > 0 ? userId : null;
    await this.endUnplaced(key, b24CallId, who, status, `the connector refused the call: ${reason}`);
  }

  async handle(ev: ParsedEvent): Promise<void> {
    const d = this.validate(ev);
    if (!d) return;
    if (d.kind === 'click2call') await this.clickToCall(d);
    else await this.callback(d);
  }

  private gatewayFor(line: string | null): { gateway: string; callerId: string } {
    const c = this.svc.config.calls;
    const gateway = (line && c.lineGateways[line]) || c.gateway;
    const fallbackCid =
      Object.entries(c.gatewayLines).find(([gw]) => gw === gateway)?.[1] ?? Object.values(c.lines)[0] ?? line ?? '0000';
    return { gateway, callerId: line ?? fallbackCid };
  }

  /** Ring the employee, then the client; Bitrix24 registered the call already. */
  private async clickToCall(d: ClickData): Promise<void> {
    const log = this.svc.log.child({ mod: 'click2call', b24CallId: d.callId });
    const aLeg = randomUUID();
    // one claim, atomic in the store: a repeat handled at the same time (here or on another instance) loses it
    if (!(await this.svc.store.claim(`c2c:${d.callId}`, { aLeg, at: this.now() }))) {
      log.info('repeated ONEXTERNALCALLSTART ignored: this CALL_ID was placed already');
      return;
    }
    const ext =
      this.svc.directory.extensionOf(d.userId) ??
      (await this.svc.directory.refresh(), this.svc.directory.extensionOf(d.userId));
    if (!ext) {
      log.warn({ userId: d.userId }, 'click-to-call: the user has no extension (UF_PHONE_INNER)');
      return this.endUnplaced(aLeg, d.callId, d.userId, '480', 'the employee has no internal number');
    }
    const where = await this.locate(ext);
    if (where.switch === null) {
      log.warn({ extension: ext, reason: where.reason }, 'click-to-call: no switch has the employee');
      return this.endUnplaced(aLeg, d.callId, d.userId, where.status, where.reason);
    }
    const { gateway, callerId } = this.gatewayFor(d.line);
    let cmd: string;
    try {
      cmd = clickToCallCommand({
        aLeg,
        bLeg: randomUUID(),
        extension: checkExt('extension', ext),
        ...(this.svc.config.calls.domain ? { domain: this.svc.config.calls.domain } : {}),
        client: d.client,
        gateway: configName('gateway', gateway),
        callerId,
        b24CallId: d.callId,
        line: d.line,
        ringSeconds: this.svc.config.calls.ringSeconds,
        kind: 'click2call',
        recordDir: this.svc.config.recordings.placedCalls ? (this.svc.config.recordings.dirs[0] ?? null) : null,
      });
    } catch (err) {
      log.error({ err }, 'click-to-call: cannot build the originate');
      return this.endUnplaced(aLeg, d.callId, d.userId, 'OTHER', (err as Error).message);
    }
    await this.originate(cmd, aLeg, d.callId, d.userId, log, where.switch);
  }

  /** The switch to ring an extension on (one switch: it, unasked). */
  private locate(ext: string): Promise<PhoneSwitch> {
    const domain = this.svc.config.calls.domain || null;
    return this.svc.locate ? this.svc.locate(ext, domain) : Promise.resolve({ switch: '' });
  }

  private async originate(
    cmd: string,
    aLeg: string,
    b24CallId: string,
    userId: number,
    log: Logger,
    switchName: string,
  ): Promise<void> {
    const jobUuid = randomUUID();
    log.info({ aLeg, jobUuid, ...(switchName ? { switch: switchName } : {}) }, 'originate sent');
    let job;
    try {
      job = await (switchName ? this.svc.originate(cmd, jobUuid, switchName) : this.svc.originate(cmd, jobUuid));
    } catch (err) {
      log.error({ err }, 'originate could not be sent');
      return this.endUnplaced(aLeg, b24CallId, userId, '503', 'the PBX is not reachable');
    }
    if (job.ok) return; // the employee answered; the call model follows the legs from here
    if (job.lost) {
      log.warn({ err: job.lost }, 'originate result lost; the call model finishes the call from its events');
      return;
    }
    const cause = job.body.replace(/^-ERR\s*/, '').trim();
    log.warn({ cause }, 'originate failed');
    // if a channel existed the model finishes the call too; the outbox keeps the first finish
    return this.endUnplaced(aLeg, b24CallId, userId, outgoingStatus(undefined, cause), reasonOf(cause));
  }

  private async endUnplaced(
    key: string,
    b24CallId: string,
    userId: number | null,
    status: string,
    reason: string,
  ): Promise<void> {
    const ext = userId === null ? null : this.svc.directory.extensionOf(userId);
    const effects: Effect[] = [
      { kind: 'adopt', call: key, b24CallId },
      {
        kind: 'finish',
        call: key,
        direction: 'outgoing',
        extension: ext,
        candidates: ext ? [ext] : [],
        duration: 0,
        status,
        addToChat: this.svc.config.calls.addToChat,
        reason,
        ...(userId === null ? {} : { userId }),
      },
    ];
    await this.svc.submit(effects);
  }

  /**
   * Choose the employee: the client's responsible manager if at work, else the configured target,
   * else the default user.
   */
  async pickEmployee(client: string): Promise<{ extension: string | null; userId: number | null }> {
    // the same decision the dialplan's routing lookup makes (at work, an extension, registered)
    const routed = await this.svc.route(client);
    if (routed.extension) return { extension: routed.extension, userId: routed.userId };
    this.svc.log.info(
      { reason: routed.reason },
      'callback: the responsible manager cannot take it; using the callback target',
    );
    const target = this.svc.config.calls.callbackTarget;
    if (target) return { extension: target, userId: this.svc.directory.userFor(target) };
    const def = this.svc.config.calls.defaultUserId;
    return { extension: this.svc.directory.extensionOf(def), userId: def };
  }

  /** Register TYPE 4, ring the employee, tell them what it is, then dial the client. */
  private async callback(d: CallbackData): Promise<void> {
    const log = this.svc.log.child({ mod: 'callback' });
    const aLeg = randomUUID();
    const who = await this.pickEmployee(d.client);
    const c = this.svc.config.calls;
    await this.svc.submit([
      {
        kind: 'register',
        call: aLeg,
        externalCallId: aLeg,
        type: 4,
        extension: who.extension,
        phone: d.client,
        line: d.line,
        startIso: new Date().toISOString().replace(/\.\d{3}Z$/, '+00:00'),
        show: true,
        crmCreate: c.crmCreateOutgoing,
        ...(d.crmEntityType && d.crmEntityId ? { crmEntityType: d.crmEntityType, crmEntityId: d.crmEntityId } : {}),
      },
    ]);
    const b24CallId = await this.svc.awaitCallId(aLeg, 60_000);
    if (!b24CallId) {
      log.error(
        { aLeg },
        'callback: register did not land in time; the call is not placed (the outbox keeps trying to register it)',
      );
      return;
    }
    const userId = who.userId ?? c.defaultUserId;
    if (!who.extension)
      return this.endUnplaced(aLeg, b24CallId, userId, '480', 'nobody with an internal number can take the callback');
    const where = await this.locate(who.extension);
    if (where.switch === null) return this.endUnplaced(aLeg, b24CallId, userId, where.status, where.reason);
    const { gateway, callerId } = this.gatewayFor(d.line);
    let cmd: string;
    try {
      cmd = callbackCommand({
        aLeg,
        bLeg: randomUUID(),
        extension: checkExt('extension', who.extension),
        ...(c.domain ? { domain: c.domain } : {}),
        client: d.client,
        gateway: configName('gateway', gateway),
        callerId,
        b24CallId,
        line: d.line,
        ringSeconds: c.ringSeconds,
        kind: 'callback',
        text: d.text,
        voice: d.voice,
        ttsEngine: c.ttsEngine || null,
        promptFile: c.promptFile || null,
        context: c.callbackContext,
        recordDir: this.svc.config.recordings.placedCalls ? (this.svc.config.recordings.dirs[0] ?? null) : null,
      });
    } catch (err) {
      return this.endUnplaced(aLeg, b24CallId, userId, 'OTHER', (err as Error).message);
    }
    await this.originate(cmd, aLeg, b24CallId, userId, log.child({ b24CallId }), where.switch);
  }
}

function reasonOf(cause: string): string {
  switch (cause) {
    case 'USER_NOT_REGISTERED':
      return "the employee's phone is not registered";
    case 'NO_ANSWER':
    case 'NO_USER_RESPONSE':
      return 'the employee did not answer';
    case 'USER_BUSY':
      return 'the employee is busy';
    case 'CALL_REJECTED':
      return 'the employee declined the call';
    default:
      return `the PBX could not place the call (${cause})`;
  }
}
