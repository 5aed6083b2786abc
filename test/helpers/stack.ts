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
