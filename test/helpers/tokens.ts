/** Tokens the emulated portal issued, as the store keeps them after an install. */
import type { Bitrix24Emulator } from '../../lib/sim/bitrix24/index.js';
import type { StoredTokens } from '../../lib/store/store.js';
import { SqliteStore } from '../../lib/store/sqlite.js';
import { Bitrix24Client } from '../../lib/bitrix24/client.js';
import { RateLimiter } from '../../lib/bitrix24/limiter.js';
import type { Logger } from '../../lib/log.js';

export function installedTokens(emu: Bitrix24Emulator, userId = 1): StoredTokens {
  const tk = emu.issueTokens(userId);
  return {
    accessToken: tk.access_token,
    refreshToken: tk.refresh_token,
    expiresAt: tk.expires * 1000,
    clientEndpoint: emu.restUrl,
    memberId: emu.app.memberId,
    domain: emu.domain,
    applicationToken: emu.app.applicationToken,
    scope: 'telephony,user',
  };
}

/** A client of the emulated portal as an installed application, on a fresh in-memory store. */
export async function installedClient(
  emu: Bitrix24Emulator,
  log: Logger,
): Promise<{ client: Bitrix24Client; store: SqliteStore }> {
  const store = new SqliteStore(':memory:');
  await store.setTokens(installedTokens(emu));
  const client = new Bitrix24Client({
    mode: 'oauth',
    oauthUrl: emu.url,
    clientId: emu.app.clientId,
    clientSecret: emu.app.clientSecret,
    store,
    limiter: new RateLimiter(1000, 1000),
    timeoutMs: 2000,
    log,
  });
  return { client, store };
}
