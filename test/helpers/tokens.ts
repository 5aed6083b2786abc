/** Tokens the emulated portal issued, as the store keeps them after an install. */
import type { Bitrix24Emulator } from '../../lib/sim/bitrix24/index.js';
import type { StoredTokens } from '../../lib/store/store.js';

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
