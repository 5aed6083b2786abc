/**
 * One request to Bitrix24 for the commands the planner chose: a single call when one
 * command goes alone (an inline recording streamed from disk), else a `batch` with
 * FILE_CONTENT read for inline recordings. Returns each command's verdict, or what the
 * failure of the whole request means.
 */
import type { Bitrix24Client } from '../bitrix24/client.js';
import { batchCommand, type AttachPayload, type Command } from './commands.js';
import { classifyError, classifyFailure, classifyResult, type Verdict } from './classify.js';

/** A command of someone else's riding in a batch that goes out anyway (the offline pull). */
export interface Rider {
  key: string;
  method: string;
  params: Record<string, unknown>;
}

/** What became of a rider: its result, its own error in the batch, or the whole request failed. */
export type RiderOutcome = { result: unknown } | { error: string; description: string } | { failed: unknown };

export type Delivery =
  | { kind: 'answered'; verdicts: Array<[Command, Verdict]> }
  | { kind: 'down' | 'throttled'; reason: string; verdicts: Array<[Command, Verdict]> };

/** An inline recording's bytes piece by piece: streamed from disk when the port can, else read whole. */
export function contentOf(
  r: { chunks?(a: AttachPayload): AsyncIterable<Buffer>; base64(a: AttachPayload): Promise<string> },
  a: AttachPayload,
): AsyncIterable<Buffer> {
  return r.chunks?.(a) ?? once(r.base64(a));
}

async function* once(b64: Promise<string>): AsyncGenerator<Buffer> {
  yield Buffer.from(await b64, 'base64');
}

/** What a delivery needs of the REST client (the start-up warm-up hands it one that answers itself). */
export type DeliveryClient = Pick<Bitrix24Client, 'operating' | 'call' | 'callWithFile' | 'batch'>;

export async function deliver(
  client: DeliveryClient,
  /** An inline recording's bytes, piece by piece (read as the request goes out). */
  content: (a: AttachPayload) => AsyncIterable<Buffer>,
  commands: Command[],
  forDefaultUser: (c: Command) => boolean,
  /** Asked once before a batch goes; a rider's outcome is reported through `rode`, exactly once. */
  rider: () => Rider | null = () => null,
  rode: (o: RiderOutcome) => void = () => {},
  /** The request's slot of the rate limit is taken already (`client.takeSlot`). */
  prepaid = false,
): Promise<Delivery> {
  const alone = commands.length === 1 && !commands[0]!.dependsOn;
  // a lone inline recording streams as one call; anything else may carry a rider (a batch holds 50)
  const ride = (alone && commands[0]!.attach?.mode === 'inline') || commands.length >= 50 ? null : rider();
  const counts = new Map<string, number>();
  for (const c of commands) counts.set(c.method, (counts.get(c.method) ?? 0) + 1);
  for (const [m, n] of counts) client.operating.sent(m, n);
  if (alone && !ride) {
    const c = commands[0]!;
    try {
      const a = c.attach;
      const result =
        a?.mode === 'inline'
          ? await client.callWithFile(c.method, c.params, 'FILE_CONTENT', a.path, a.size, { prepaid })
          : await client.call(c.method, c.params, { prepaid });
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
  if (ride) cmd[ride.key] = batchCommand(ride);
  let res;
  try {
    res = await client.batch(cmd, files, { prepaid });
  } catch (err) {
    if (ride) rode({ failed: err });
    const f = classifyFailure(err);
    const reason = f.kind === 'command' ? `batch: ${f.error.error}` : f.reason;
    return { kind: f.kind === 'throttled' ? 'throttled' : 'down', reason, verdicts };
  }
  if (ride) {
    const e = res.errors[ride.key];
    rode(e ? { error: e.error, description: e.error_description ?? '' } : { result: res.result[ride.key] });
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
