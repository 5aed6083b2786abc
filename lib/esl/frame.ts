/**
 * ESL framing: the outer `Name: value` block, optionally followed by exactly
 * `Content-Length` bytes (freeswitch-esl.md §1.1). The same parser serves the
 * service's client (frames from FreeSWITCH) and the simulator (commands from a
 * client), so it accepts `\n` and `\r\n` line ends and skips leading blank lines.
 */
import { Fsb24Error } from '../errors.js';

export interface Frame {
  /** In command mode (the simulator reading a client): the first line, e.g. `api status`. */
  readonly command: string | null;
  /** Outer headers in arrival order (never URL-encoded, §1.1). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** The body, when the block carried a Content-Length. */
  readonly body: Buffer | null;
}

export function frameHeader(frame: Frame, name: string): string | undefined {
  for (const [k, v] of frame.headers) if (k === name) return v;
  return undefined;
}

export class FrameError extends Fsb24Error<'ESL_ERR_FRAME', Record<string, never>> {
  override readonly name = 'FrameError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESL_ERR_FRAME', message, {}, options);
  }
}

/** FreeSWITCH refuses command bodies above 16 MiB (read_packet); events are far smaller. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;
const MAX_HEADER_BYTES = 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Incremental parser. Feed it chunks as they arrive; it returns the frames they
 * complete. It never rescans bytes it already looked at (modesl 1.2.1 does, which
 * makes large bodies quadratic, §9).
 */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);
  /** Where to resume looking for the end of the header block. */
  private scanFrom = 0;
  /** Header block parsed, waiting for this many body bytes. */
  private pending: { command: string | null; headers: Array<[string, string]>; length: number } | null = null;

  /** `commands`: the first line of each block is a command, not a header (client → FreeSWITCH). */
  constructor(private readonly mode: 'replies' | 'commands' = 'replies') {}

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    for (;;) {
      const frame = this.next();
      if (!frame) break;
      out.push(frame);
    }
    return out;
  }

  private next(): Frame | null {
    if (this.pending) {
      const { command, headers, length } = this.pending;
      if (this.buf.length < length) return null;
      const body = Buffer.from(this.buf.subarray(0, length));
      this.consume(length);
      this.pending = null;
      return { command, headers, body };
    }
    // skip blank lines between frames
    let start = 0;
    while (start < this.buf.length && (this.buf[start] === LF || this.buf[start] === CR)) start++;
    if (start > 0) this.consume(start);
    if (this.buf.length === 0) return null;

    const end = this.findBlankLine();
    if (end < 0) {
      if (this.buf.length > MAX_HEADER_BYTES) throw new FrameError(`header block exceeds ${MAX_HEADER_BYTES} bytes`);
      return null;
    }
    const block = this.buf.toString('utf8', 0, end);
    const headerEnd = this.blankLineLength(end);
    this.consume(end + headerEnd);
    const headers: Array<[string, string]> = [];
    let command: string | null = null;
    for (const rawLine of block.split('\n')) {
      const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
      if (line === '') continue;
      if (this.mode === 'commands' && command === null) {
        command = line;
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) throw new FrameError(`header line without a name: ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1).replace(/^ /, '');
      headers.push([name, value]);
    }
    const lengthHeader = headers.find(([k]) => k === 'Content-Length');
    if (!lengthHeader) return { command, headers, body: null };
    const length = Number(lengthHeader[1]);
    if (!Number.isInteger(length) || length < 0 || length > MAX_BODY_BYTES) {
      throw new FrameError(`bad Content-Length ${JSON.stringify(lengthHeader[1])}`);
    }
    this.pending = { command, headers, length };
    return this.next();
  }

  /** Index of the first byte of the blank line that ends the header block, or -1. */
  private findBlankLine(): number {
    const b = this.buf;
    for (let i = this.scanFrom; i < b.length; i++) {
      if (b[i] !== LF) continue;
      // i ends a line; a blank line follows if the next byte is LF, or CR LF
      if (b[i + 1] === LF) return i + 1;
      if (b[i + 1] === CR && b[i + 2] === LF) return i + 1;
    }
    // resume just before the tail, which may hold the first half of "\n\r\n"
    this.scanFrom = Math.max(0, b.length - 2);
    return -1;
  }

  private blankLineLength(at: number): number {
    return this.buf[at] === CR ? 2 : 1;
  }

  private consume(n: number): void {
    this.buf = this.buf.subarray(n);
    this.scanFrom = 0;
  }
}

/**
 * Serialize an outer frame: headers, blank line, body. With a body, Content-Length is
 * added: first for events, after Content-Type for replies (as the captures show).
 */
export function encodeFrame(headers: ReadonlyArray<readonly [string, string]>, body?: Buffer | string): Buffer {
  const bodyBuf = body === undefined ? null : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const isEvent = headers.some(([k, v]) => k === 'Content-Type' && v.startsWith('text/event-'));
  let head = '';
  if (bodyBuf && isEvent) head += `Content-Length: ${bodyBuf.length}\n`;
  for (const [k, v] of headers) {
    head += `${k}: ${v}\n`;
    if (bodyBuf && !isEvent && k === 'Content-Type') head += `Content-Length: ${bodyBuf.length}\n`;
  }
  head += '\n';
  return bodyBuf ? Buffer.concat([Buffer.from(head, 'utf8'), bodyBuf]) : Buffer.from(head, 'utf8');
}
