/** What the portal sends the application: events POSTed as the queue server does, install, click-to-call, callbacks. */
import * as tel from './telephony.js';
import type { PortalState } from './state.js';
import { eventBody } from './sender.js';
import { OFFLINE_HANDLER, queueOfflineEvent } from './authorize.js';

type Tokens = { access_token: string; refresh_token: string; expires: number; expires_in: number };

/** What sending events needs of the emulator (an interface, so no import cycle with portal.ts). */
export interface EventPortal {
  readonly state: PortalState;
  readonly app: { id: string; installed: boolean };
  readonly now: () => number;
  issueTokens(userId?: number): Tokens;
  authBlock(tokens: Tokens | null, userId?: number): Record<string, string>;
}

export interface ClickToCall {
  userId: number;
  phone: string;
  lineNumber?: string;
  crmEntityType?: string;
  crmEntityId?: number;
  twice?: boolean;
  /**
   * Post to these addresses, one after the other, instead of the bound handler (a load balancer
   * in front of several instances sends each delivery to one of them).
   */
  to?: string[];
}

export interface CallbackRequest {
  phone: string;
  text?: string;
  voice?: string;
  lineNumber?: string;
  crmEntityType?: string;
  crmEntityId?: number;
}

/** POST an event to a URL exactly as the queue server does (§10.1): form, PHP keys, strings, no retry. */
export async function postEvent(
  emu: EventPortal,
  url: string,
  event: string,
  data: Record<string, unknown>,
  auth: Record<string, string>,
  handlerId = '1',
): Promise<number> {
  if (url === OFFLINE_HANDLER) return queueOfflineEvent(emu.state, emu.app.id, event, data, auth, emu.now());
  const body = eventBody(event, handlerId, data, auth, emu.now());
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0; // delivery is at most once: a failure is only logged on the portal's side
  }
}

/** Install the local application: ONAPPINSTALL with tokens to its install handler. */
export async function install(emu: EventPortal, handlerUrl: string, userId = 1): Promise<number> {
  const tokens = emu.issueTokens(userId);
  emu.app.installed = true;
  return postEvent(
    emu,
    handlerUrl,
    'ONAPPINSTALL',
    { VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' },
    emu.authBlock(tokens, userId),
  );
}

function handlersFor(emu: EventPortal, event: string): string[] {
  return emu.state.handlers
    .filter((h) => h.appId === emu.app.id && h.event === event)
    .map((h) => (h.offline ? OFFLINE_HANDLER : h.handler));
}

/**
 * A user clicks a number in the CRM (§10.3): the portal registers the call itself
 * (TYPE 1, CRM_CREATE from the line) and sends ONEXTERNALCALLSTART to the app.
 */
export async function clickToCall(
  emu: EventPortal,
  o: ClickToCall,
  ctx: tel.CallContext,
): Promise<{ callId: string; statuses: number[] }> {
  const handlers = handlersFor(emu, 'ONEXTERNALCALLSTART');
  if (!emu.app.installed || handlers.length === 0) throw new Error('the app has not bound ONEXTERNALCALLSTART');
  const line = emu.state.lines.find((l) => l.appId === emu.app.id && l.NUMBER === o.lineNumber);
  const res = tel.registerCall(ctx, {
    userId: o.userId,
    phone: o.phone.replace(/[^0-9+]/g, ''),
    type: 1,
    start: new Date(emu.now()).toISOString().replace(/\.\d+Z$/, '+00:00'),
    line: o.lineNumber ?? null,
    externalId: null,
    crmCreate: (line?.CRM_AUTO_CREATE ?? 'Y') === 'Y',
    crmEntityType: o.crmEntityType ?? null,
    crmEntityId: o.crmEntityId ?? null,
    show: false,
    by: 'click2call',
  });
  const callId = String(res.CALL_ID);
  const data = {
    PHONE_NUMBER: o.phone,
    PHONE_NUMBER_INTERNATIONAL: o.phone,
    EXTENSION: '',
    USER_ID: o.userId,
    CALL_LIST_ID: 0,
    LINE_NUMBER: o.lineNumber ?? '',
    IS_MOBILE: 0,
    CALL_ID: callId,
    CRM_ENTITY_TYPE: res.CRM_ENTITY_TYPE || null,
    CRM_ENTITY_ID: res.CRM_ENTITY_ID ?? null,
  };
  const tokens = emu.issueTokens(o.userId);
  const statuses: number[] = [];
  for (const h of o.to ?? handlers) {
    statuses.push(await postEvent(emu, h, 'ONEXTERNALCALLSTART', data, emu.authBlock(tokens, o.userId)));
    if (o.twice) statuses.push(await postEvent(emu, h, 'ONEXTERNALCALLSTART', data, emu.authBlock(tokens, o.userId)));
  }
  return { callId, statuses };
}

/** A visitor asks for a callback in a CRM form (§10.4): no CALL_ID, no USER_ID. */
export async function callbackRequest(emu: EventPortal, o: CallbackRequest): Promise<number[]> {
  const handlers = handlersFor(emu, 'ONEXTERNALCALLBACKSTART');
  if (!emu.app.installed || handlers.length === 0) throw new Error('the app has not bound ONEXTERNALCALLBACKSTART');
  const data = {
    PHONE_NUMBER: o.phone,
    TEXT: o.text ?? 'A callback was ordered from the website',
    VOICE: o.voice ?? 'ruinternalfemale',
    CRM_ENTITY_TYPE: o.crmEntityType ?? null,
    CRM_ENTITY_ID: o.crmEntityId ?? null,
    LINE_NUMBER: o.lineNumber ?? null,
  };
  const out: number[] = [];
  for (const h of handlers) out.push(await postEvent(emu, h, 'ONEXTERNALCALLBACKSTART', data, emu.authBlock(null)));
  return out;
}
