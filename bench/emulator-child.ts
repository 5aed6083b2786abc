/** The portal emulator in its own process (so the upload benchmark measures the uploader alone). */
import { startBitrix24Emulator } from '../lib/sim/bitrix24/index.js';

const emu = await startBitrix24Emulator();
emu.state.addUser({ ID: 1, UF_PHONE_INNER: '1001' });
const tokens = emu.issueTokens(1);
emu.app.installed = true;
process.on('message', async (m: { cmd: string }) => {
  if (m.cmd === 'call') {
    const res = await fetch(`${emu.restUrl}batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: tokens.access_token,
        cmd: {
          r: 'telephony.externalcall.register?USER_ID=1&PHONE_NUMBER=%2B79161234567&TYPE=2',
          f: 'telephony.externalcall.finish?CALL_ID=$result[r][CALL_ID]&USER_ID=1&DURATION=60',
        },
      }),
    });
    const body = (await res.json()) as { result: { result: { r: { CALL_ID: string } } } };
    process.send?.({ callId: body.result.result.r.CALL_ID });
  }
  if (m.cmd === 'files')
    process.send?.({ files: emu.state.files.map((f) => ({ id: f.CALL_ID, size: f.bytes.length, via: f.via })) });
  if (m.cmd === 'stop') void emu.close().then(() => process.exit(0));
});
process.send?.({
  url: emu.url,
  restUrl: emu.restUrl,
  token: tokens.access_token,
  refresh: tokens.refresh_token,
  clientId: emu.app.clientId,
  secret: emu.app.clientSecret,
});
