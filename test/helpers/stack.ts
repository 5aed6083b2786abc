/**
 * The whole stack on loopback: FreeSWITCH simulator → service (real sockets) →
 * Bitrix24 emulator, installed as a local application. Used by integration tests and
 * (in lib/demo) by the demo.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack, type StackOptions } from '../../lib/demo/stack.js';
import { compose } from '../../bin/compose.js';

export async function stack(
  t: { teardown: (fn: () => unknown) => void },
  opts: Omit<StackOptions, 'compose'> = {},
): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'fsb24-'));
  const s = await startStack({ dataDir: join(dir, 'data'), recordingsDir: join(dir, 'rec'), compose, ...opts });
  t.teardown(() => s.close());
  return s;
}

/** The config of a second run against the same stack (check, bind): its switch, portal and data. */
export function overrides(s: Stack, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const c = s.config;
  return {
    'esl.host': c.esl.host,
    'esl.port': c.esl.port,
    dataDir: c.dataDir,
    publicUrl: s.service.url,
    'b24.portalUrl': c.b24.portalUrl,
    'b24.clientId': c.b24.clientId,
    'b24.clientSecret': c.b24.clientSecret,
    'b24.oauthUrl': c.b24.oauthUrl,
    logLevel: 'silent',
    ...extra,
  };
}
