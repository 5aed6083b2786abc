/**
 * Request bodies that carry a recording as base64 without holding it in memory: a JSON
 * body with FILE_CONTENT streamed in, and a batch whose commands end in an escaped
 * FILE_CONTENT read as the body goes out (used by lib/bitrix24/client.ts).
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

export type StreamedFile =
  | { kind?: undefined; field: string; path: string; size: number }
  | { kind: 'batch'; files: Record<string, () => AsyncIterable<Buffer>> };

/**
 * A batch body whose `cmd[key]` lines end in `&FILE_CONTENT=<base64, + / = escaped>` read
 * as the body goes out (chunked: the escaped length is known only once read).
 */
export function batchWithFiles(
  body: Record<string, unknown>,
  files: Record<string, () => AsyncIterable<Buffer>>,
): { body: Readable; length: undefined } {
  const mark = `@@fsb24-${Math.random().toString(36).slice(2)}-`;
  const cmd = { ...(body.cmd as Record<string, string>) };
  const order = Object.keys(files).filter((k) => k in cmd);
  order.forEach((k, i) => (cmd[k] = `${cmd[k]}&FILE_CONTENT=${mark}${i}@@`));
  const parts = JSON.stringify({ ...body, cmd }).split(new RegExp(`${mark}(\\d+)@@`));
  async function* gen(): AsyncGenerator<Buffer> {
    for (let i = 0; i < parts.length; i++) {
      if (i % 2 === 0) yield Buffer.from(parts[i]!);
      else yield* pctBase64Stream(files[order[Number(parts[i])]!]!());
    }
  }
  return { body: Readable.from(gen(), { objectMode: false }), length: undefined };
}

const B64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789');

/** Bytes → base64 as a query value (`+` `/` `=` escaped as %2B %2F %3D), in one pass over the bytes. */
export async function* pctBase64Stream(raw: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let carry = Buffer.alloc(0);
  for await (const chunk of raw) {
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const cut = buf.length - (buf.length % 3);
    if (cut > 0) yield pctBase64(buf.subarray(0, cut));
    carry = Buffer.from(buf.subarray(cut));
  }
  if (carry.length) yield pctBase64(carry);
}

/** `src` as escaped base64 (padding only when its length is not a multiple of 3). */
export function pctBase64(src: Buffer): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil(src.length / 3) * 12);
  let j = 0;
  const put = (s: number): void => {
    if (s < 62) out[j++] = B64[s]!;
    else {
      out[j++] = 37; // %2B or %2F
      out[j++] = 50;
      out[j++] = s === 62 ? 66 : 70;
    }
  };
  const whole = src.length - (src.length % 3);
  for (let i = 0; i < whole; i += 3) {
    const x = (src[i]! << 16) | (src[i + 1]! << 8) | src[i + 2]!;
    put(x >> 18);
    put((x >> 12) & 63);
    put((x >> 6) & 63);
    put(x & 63);
  }
  const rest = src.length - whole;
  if (rest > 0) {
    const x = (src[whole]! << 16) | (rest === 2 ? src[whole + 1]! << 8 : 0);
    put(x >> 18);
    put((x >> 12) & 63);
    if (rest === 2) put((x >> 6) & 63);
    for (let k = rest; k < 3; k++) j += out.write('%3D', j, 'latin1');
  }
  return out.subarray(0, j);
}

/** `{...params, "<field>":"<base64 of the file>"}` as a stream, with its exact length. */
export function jsonWithBase64File(
  params: Record<string, unknown>,
  field: string,
  path: string,
  size: number,
): { body: Readable; length: number } {
  const head = Buffer.from(
    `${JSON.stringify(params).slice(0, -1)}${Object.keys(params).length ? ',' : ''}${JSON.stringify(field)}:"`,
  );
  const tail = Buffer.from('"}');
  const b64Length = 4 * Math.ceil(size / 3);
  async function* gen(): AsyncGenerator<Buffer> {
    yield head;
    let carry = Buffer.alloc(0);
    // chunks of a multiple of 3 bytes encode without padding in the middle
    for await (const chunk of createReadStream(path, { highWaterMark: 192 * 1024 })) {
      const buf = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
      const cut = buf.length - (buf.length % 3);
      if (cut > 0) yield Buffer.from(buf.subarray(0, cut).toString('base64'));
      carry = Buffer.from(buf.subarray(cut));
    }
    if (carry.length) yield Buffer.from(carry.toString('base64'));
    yield tail;
  }
  return { body: Readable.from(gen()), length: head.length + b64Length + tail.length };
}
