/**
 * Installing the local application (ONAPPINSTALL, bitrix24-telephony.md §10.2, §10.5):
 * the install is trusted only for the portal FSB24_B24_PORTAL_URL names, only after its
 * tokens worked on that portal, and never over an install of another portal.
 */
import { timingSafeEqual } from 'node:crypto';
import { request } from 'undici';
import type { StoredTokens, Store } from '../store/store.js';
import type { EventAuth } from '../bitrix24/event-body.js';
import { Fsb24Error } from '../errors.js';
import { realClock, type Clock } from '../clock.js';

export class InstallRefused extends Fsb24Error<'HTTP_ERR_INSTALL_REFUSED', Record<string, never>> {
  override readonly name = 'InstallRefused';
  constructor(message: string, options?: { cause?: unknown }) {
    super('HTTP_ERR_INSTALL_REFUSED', message, {}, options);
  }
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Prove the tokens on the portal they claim to come from; store them only then. */
export async function acceptInstall(
  auth: EventAuth,
  portalUrl: string,
  store: Store,
  timeoutMs: number,
  clock: Pick<Clock, 'now'> = realClock,
  /** Several instances: which one proves the tokens (the portal's holder). */
  userAgent?: string,
): Promise<StoredTokens> {
  if (!portalUrl)
    throw new InstallRefused('FSB24_B24_PORTAL_URL is not set: refusing installs until the portal is configured');
  const portal = new URL(portalUrl);
  if (!auth.clientEndpoint || !auth.accessToken || !auth.refreshToken)
    throw new InstallRefused('install without tokens (access_token, refresh_token, client_endpoint)');
  const endpoint = new URL(auth.clientEndpoint);
  if (endpoint.host !== portal.host || auth.domain !== portal.host) {
    throw new InstallRefused(`install from ${auth.domain} refused: this service serves ${portal.host}`);
  }
  const current = await store.tokens();
  if (current && current.memberId !== auth.memberId)
    throw new InstallRefused('another installation already owns this portal (member_id differs)');
  // the token must work on the portal itself
  const res = await request(new URL('app.info.json', endpoint), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(userAgent ? { 'user-agent': userAgent } : {}) },
    body: JSON.stringify({ auth: auth.accessToken }),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  }).catch((err: Error) => {
    throw new InstallRefused(`could not verify the install on ${portal.host}: ${err.message}`, { cause: err });
  });
  const body = (await res.body.json().catch(() => ({}))) as { result?: unknown; error?: string };
  if (res.statusCode !== 200 || !body.result)
    throw new InstallRefused(`the portal did not accept the install tokens (${body.error ?? res.statusCode})`);
  const tokens: StoredTokens = {
    accessToken: auth.accessToken,
    refreshToken: auth.refreshToken,
    expiresAt: (auth.expires ?? Math.floor(clock.now() / 1000) + 3600) * 1000,
    clientEndpoint: endpoint.href,
    memberId: auth.memberId,
    domain: auth.domain,
    applicationToken: auth.applicationToken,
    scope: auth.scope ?? '',
  };
  await store.setTokens(tokens);
  return tokens;
}
