/**
 * Bitrix24 event bodies (bitrix24-telephony.md §10): form-encoded PHP keys, all values
 * strings, empty fields absent. Parsed into typed values here, at the edge.
 */
import { Fsb24Error } from '../errors.js';
export class BadEvent extends Fsb24Error<'HTTP_ERR_BAD_EVENT', Record<string, never>> {
  override readonly name = 'BadEvent';
  constructor(message: string, options?: { cause?: unknown }) {
    super('HTTP_ERR_BAD_EVENT', message, {}, options);
  }
}

/** No application_token at all: refused like a wrong one (401), not as a malformed body. */
export class MissingToken extends Fsb24Error<'HTTP_ERR_UNAUTHORIZED', Record<string, never>> {
  override readonly name = 'MissingToken';
  constructor(message: string, options?: { cause?: unknown }) {
    super('HTTP_ERR_UNAUTHORIZED', message, {}, options);
  }
}

export interface EventAuth {
  accessToken?: string;
  refreshToken?: string;
  expires?: number;
  domain: string;
  clientEndpoint?: string;
  serverEndpoint?: string;
  memberId: string;
  applicationToken: string;
  scope?: string;
  userId?: number;
}

export interface ParsedEvent {
  event: string;
  data: Record<string, string>;
  auth: EventAuth;
}

export const KNOWN_EVENTS = new Set([
  'ONAPPINSTALL',
  'ONAPPUNINSTALL',
  'ONEXTERNALCALLSTART',
  'ONEXTERNALCALLBACKSTART',
]);

function str(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
}

export function parseEvent(body: unknown): ParsedEvent {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new BadEvent('body must be a form (application/x-www-form-urlencoded)');
  const b = body as Record<string, unknown>;
  const event = str(b, 'event')?.toUpperCase();
  if (!event) throw new BadEvent('missing field: event');
  if (!KNOWN_EVENTS.has(event)) throw new BadEvent(`unknown event: ${event}`);
  const authRaw = b.auth;
  if (!authRaw || typeof authRaw !== 'object' || Array.isArray(authRaw)) {
    throw new MissingToken('missing field: auth[application_token]');
  }
  const a = authRaw as Record<string, unknown>;
  const applicationToken = str(a, 'application_token');
  const memberId = str(a, 'member_id');
  const domain = str(a, 'domain');
  if (!applicationToken) throw new MissingToken('missing field: auth[application_token]');
  if (!memberId) throw new BadEvent('missing field: auth[member_id]');
  if (!domain) throw new BadEvent('missing field: auth[domain]');
  const dataRaw = b.data ?? {};
  if (typeof dataRaw !== 'object' || Array.isArray(dataRaw)) throw new BadEvent('data must be a map (data[...])');
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(dataRaw as Record<string, unknown>)) if (typeof v === 'string') data[k] = v;
  const expires = Number(str(a, 'expires'));
  const userId = Number(str(a, 'user_id'));
  return {
    event,
    data,
    auth: {
      ...(str(a, 'access_token') ? { accessToken: str(a, 'access_token') } : {}),
      ...(str(a, 'refresh_token') ? { refreshToken: str(a, 'refresh_token') } : {}),
      ...(Number.isFinite(expires) && expires > 0 ? { expires } : {}),
      domain,
      ...(str(a, 'client_endpoint') ? { clientEndpoint: str(a, 'client_endpoint') } : {}),
      ...(str(a, 'server_endpoint') ? { serverEndpoint: str(a, 'server_endpoint') } : {}),
      memberId,
      applicationToken,
      ...(str(a, 'scope') ? { scope: str(a, 'scope') } : {}),
      ...(Number.isInteger(userId) && userId > 0 ? { userId } : {}),
    },
  };
}

/** An event that is not from this installation (a wrong or unknown application_token): 401. */
export class Unauthorized extends Fsb24Error<'HTTP_ERR_UNAUTHORIZED', Record<string, never>> {
  override readonly name = 'Unauthorized';
  constructor(message: string, options?: { cause?: unknown }) {
    super('HTTP_ERR_UNAUTHORIZED', message, {}, options);
  }
}
