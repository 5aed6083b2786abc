/**
 * One request to Bitrix24 for the commands the planner chose: a single call when one
 * command goes alone (an inline recording streamed from disk), else a `batch` with
 * FILE_CONTENT read for inline recordings. Returns each command's verdict, or what the
 * failure of the whole request means.
 */
import type { Bitrix24Client } from '../bitrix24/client.js';
import { batchCommand, type AttachPayload, type Command } from './commands.js';
import { classifyError, classifyFailure, classifyResult, type Verdict } from './classify.js';

export type Delivery =
  | { kind: 'answered'; verdicts: Array<[Command, Verdict]> }
  | { kind: 'down' | 'throttled'; reason: string; verdicts: Array<[Command, Verdict]> };

export async function deliver(
  client: Bitrix24Client,
  /** An inline recording's bytes, piece by piece (read as the request goes out). */
  content: (a: AttachPayload) => AsyncIterable<Buffer>,
  commands: Command[],
  forDefaultUser: (c: Command) => boolean,
): Promise<Delivery> {
  const counts = new Map<string, number>();
  for (const c of commands) counts.set(c.method, (counts.get(c.method) ?? 0) + 1);
  for (const [m, n] of counts) client.operating.sent(m, n);
  if (commands.length === 1 && !commands[0]!.dependsOn) {
    const c = commands[0]!;
    try {
      const a = c.attach;
      const result =
        a?.mode === 'inline'
          ? await client.callWithFile(c.method, c.params, 'FILE_CONTENT', a.path, a.size)
          : await client.call(c.method, c.params);
      return { kind: 'answered', verdicts: [[c, classifyResult(c, result)]] };
    } catch (err) {
      const f = classifyFailure(err);
      if (f.kind === 'command')
        return { kind: 'answered', verdicts: [[c, classifyError(c, f.error, forDefaultUser(c))]] };
      return { kind: f.kind, reason: f.reason, verdicts: [] };
    }
  }
  const cmd: Record<string, string> = {};
  const files: Record<string, () => AsyncIterable<Buffer>> = {};
  const sent: Command[] = [];
  const verdicts: Array<[Command, Verdict]> = [];
  for (const c of commands) {
    const a = c.attach;
    cmd[c.key] = batchCommand(c);
    // FILE_CONTENT is streamed from disk into the body, never held whole
    if (a?.mode === 'inline') files[c.key] = () => content(a);
    sent.push(c);
  }
  let res;
  try {
    res = await client.batch(cmd, files);
  } catch (err) {
    const f = classifyFailure(err);
    const reason = f.kind === 'command' ? `batch: ${f.error.error}` : f.reason;
    return { kind: f.kind === 'throttled' ? 'throttled' : 'down', reason, verdicts };
  }
  const failedRegisters = new Set<string>();
  for (const c of sent) {
    const error = res.errors[c.key];
    let v: Verdict;
    if (c.dependsOn && failedRegisters.has(c.dependsOn)) v = { kind: 'waiting', reason: `waiting for ${c.dependsOn}` };
    else if (error) {
      const status = error.error === 'OPERATION_TIME_LIMIT' ? 429 : 400;
      v = classifyError(
        c,
        { error: error.error, description: error.error_description ?? '', status },
        forDefaultUser(c),
      );
    } else v = classifyResult(c, res.result[c.key]);
    if (c.kind === 'register' && v.kind !== 'done') failedRegisters.add(c.key);
    verdicts.push([c, v]);
  }
  return { kind: 'answered', verdicts };
}

