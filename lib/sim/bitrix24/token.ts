/** The portal's /oauth/token/ endpoint: authorization-code and refresh-token grants, refresh tokens rotating. */
import type { FastifyReply } from 'fastify';
import { takeCode, type Bitrix24Emulator as AuthorizePortal } from './authorize.js';

type Tokens = { access_token: string; refresh_token: string; expires: number; expires_in: number };

/** What the token endpoint needs of the emulator (an interface, so no import cycle with portal.ts). */
export interface TokenPortal extends AuthorizePortal {
  readonly app: AuthorizePortal['app'] & { clientSecret: string };
  readonly restUrl: string;
  issueTokens(userId?: number): Tokens;
}

/** `p` holds the query and the form body; `refreshTokens` the emulator's refresh tokens, each used once. */
export function tokenEndpoint(
  emu: TokenPortal,
  refreshTokens: Map<string, { userId: number; used: boolean }>,
  p: Record<string, unknown>,
  reply: FastifyReply,
): unknown {
  const fail = (status: number, error: string, description: string): unknown =>
    reply.code(status).send({ error, error_description: description });
  if (p.client_id !== emu.app.clientId || p.client_secret !== emu.app.clientSecret)
    return fail(401, 'invalid_client', 'Invalid client credentials');
  let userId: number;
  if (p.grant_type === 'authorization_code') {
    const code = takeCode(emu, String(p.code ?? '')); // single use, 30 s (authorize.ts)
    if (!code || code.expiresAt <= emu.now()) return fail(400, 'invalid_grant', 'Invalid authorization code');
    userId = code.userId;
  } else if (p.grant_type === 'refresh_token') {
    const rt = refreshTokens.get(String(p.refresh_token ?? ''));
    if (!rt || rt.used) return fail(400, 'invalid_grant', 'Invalid refresh token');
    rt.used = true; // refresh tokens rotate: reuse is refused
    userId = rt.userId;
  } else return fail(400, 'invalid_request', 'Unsupported grant_type');
  const tokens = emu.issueTokens(userId);
  return reply.send({
    ...tokens,
    client_endpoint: emu.restUrl,
    domain: 'oauth.bitrix.info',
    member_id: emu.app.memberId,
    scope: emu.app.scopes,
    server_endpoint: `${emu.url}/rest/`,
    status: 'L',
    user_id: userId,
  });
}
