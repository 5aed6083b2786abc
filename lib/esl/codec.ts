/**
 * Event bodies: `text/event-plain` (URL-encoded header lines) and `text/event-json`
 * (freeswitch-esl.md §1.5; fixtures/README.md "Wire notes"). Decoding never throws
 * on odd percent sequences: FreeSWITCH does not double-encode `%XX`, and values may
 * hold bytes that are not UTF-8 (modesl #59 crashed on exactly that).
 */
import { Fsb24Error } from '../errors.js';

export type HeaderValue = string | readonly string[];
export type HeaderList = ReadonlyArray<readonly [string, HeaderValue]>;

const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * Percent-decode to UTF-8; a `%` not followed by two hex digits stays literal; bad UTF-8
 * becomes U+FFFD. `latin1`: the string holds raw bytes (one char per byte).
 */
export function percentDecode(s: string, latin1 = false): string {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && HEX.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80 || (latin1 && c < 0x100)) {
      bytes.push(c);
    } else {
      // a raw non-ASCII character: keep its UTF-8 bytes (code points above the BMP span two units)
      const cp = s.codePointAt(i) ?? c;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) bytes.push(b);
      if (cp > 0xffff) i++;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** switch_url_encode as FreeSWITCH applies it to plain event values. */
const ENCODE_SET = new Set(Array.from(' \r\n#%&+:;<=>?@[\\]^`{|}"', (ch) => ch.charCodeAt(0)));
const UPPER_HEX = /^[0-9A-F]{2}$/;

export function percentEncode(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0x25 && UPPER_HEX.test(bytes.toString('latin1', i + 1, i + 3))) {
      out += '%'; // an existing %XX is left as is (no double encoding)
    } else if (b < 0x20 || b > 0x7e || ENCODE_SET.has(b)) {
      out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    } else {
      out += String.fromCharCode(b);
    }
  }
  return out;
}

export class EventDecodeError extends Fsb24Error<'ESL_ERR_EVENT_DECODE', Record<string, never>> {
  override readonly name = 'EventDecodeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ESL_ERR_EVENT_DECODE', message, {}, options);
  }
}

/** A decoded event: headers in order (duplicates kept), the first value per name for lookups. */
export class EslEvent {
  private readonly index = new Map<string, HeaderValue>();
  constructor(
    readonly headers: HeaderList,
    readonly body: string | null,
  ) {
    for (const [k, v] of headers) if (!this.index.has(k)) this.index.set(k, v);
  }

  get name(): string {
    return this.get('Event-Name') ?? '';
  }

  /** A single-valued header; for a multi-valued one, its first value. */
  get(name: string): string | undefined {
    const v = this.index.get(name);
    if (v === undefined) return undefined;
    return typeof v === 'string' ? v : v[0];
  }

  /** Every value of a header that FreeSWITCH may send as an array (`ARRAY::a|:b` in plain). */
  list(name: string): string[] {
    const v = this.index.get(name);
    if (v === undefined) return [];
    return typeof v === 'string' ? [v] : [...v];
  }

  get uuid(): string | undefined {
    return this.get('Unique-ID');
  }

  variable(name: string): string | undefined {
    return this.get(`variable_${name}`);
  }

  has(name: string): boolean {
    return this.index.has(name);
  }
}

function plainValue(raw: string): HeaderValue {
  const v = percentDecode(raw, true);
  if (v.startsWith('ARRAY::')) return v.slice(7).split('|:');
  return v;
}

export function decodePlainEvent(body: Buffer): EslEvent {
  const text = body.toString('latin1');
  const blank = text.indexOf('\n\n');
  const block = blank < 0 ? text : text.slice(0, blank);
  const headers: Array<[string, HeaderValue]> = [];
  let innerLength: number | null = null;
  for (const line of block.split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(': ');
    if (colon <= 0) throw new EventDecodeError(`plain event line without a name: ${JSON.stringify(line.slice(0, 60))}`);
    const name = line.slice(0, colon);
    const raw = line.slice(colon + 2);
    if (name === 'Content-Length') {
      innerLength = Number(raw);
      continue;
    }
    // the block is ASCII on the wire (FS encodes everything else); latin1 keeps stray bytes intact
    headers.push([name, plainValue(raw)]);
  }
  let inner: string | null = null;
  if (innerLength !== null && blank >= 0) {
    const start = Buffer.byteLength(text.slice(0, blank + 2), 'latin1');
    inner = body.subarray(start, start + innerLength).toString('utf8');
  }
  return new EslEvent(headers, inner);
}

/**
 * `text/event-json` is one flat object whose values are strings or arrays of strings;
 * a header can appear twice (CHANNEL_HANGUP_COMPLETE's Hangup-Cause), which JSON.parse
 * would fold, so the object is scanned here, each string token decoded by JSON.parse.
 */
export function decodeJsonEvent(body: Buffer): EslEvent {
  const text = body.toString('utf8');
  let i = 0;
  const fail = (what: string): never => {
    throw new EventDecodeError(`event-json: ${what} at offset ${i}`);
  };
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const str = (): string => {
    if (text[i] !== '"') fail('expected a string');
    const start = i++;
    let plain = true; // no escape, no control character: the value is the text itself (no JSON.parse)
    for (let c = text.charCodeAt(i); i < text.length && c !== 0x22; c = text.charCodeAt(i)) {
      if (c === 0x5c || c < 0x20) plain = false;
      i += c === 0x5c ? 2 : 1;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    return plain ? text.slice(start + 1, i - 1) : (JSON.parse(text.slice(start, i)) as string);
  };
  const scalar = (): string => {
    if (text[i] === '"') return str();
    const m = /^(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 40));
    if (!m) return fail('unexpected value');
    i += (m[1] as string).length;
    return m[1] as string;
  };
  const headers: Array<[string, HeaderValue]> = [];
  let inner: string | null = null;
  ws();
  if (text[i++] !== '{') fail('expected an object');
  ws();
  if (text[i] === '}') i++;
  else {
    for (;;) {
      ws();
      const key = str();
      ws();
      if (text[i++] !== ':') fail('expected a colon');
      ws();
      let value: HeaderValue;
      if (text[i] === '[') {
        i++;
        const items: string[] = [];
        ws();
        if (text[i] === ']') i++;
        else {
          for (;;) {
            ws();
            items.push(scalar());
            ws();
            const c = text[i++];
            if (c === ']') break;
            if (c !== ',') fail('expected , or ]');
          }
        }
        value = items;
      } else value = scalar();
      if (key === '_body') inner = typeof value === 'string' ? value : value.join('');
      else if (key !== 'Content-Length' || inner !== null || text.indexOf('"_body"', i) < 0) headers.push([key, value]);
      ws();
      const c = text[i++];
      if (c === '}') break;
      if (c !== ',') fail('expected , or }');
    }
  }
  ws();
  if (i !== text.length) fail('trailing bytes');
  return new EslEvent(headers, inner);
}

/** Serialize as FreeSWITCH does for `text/event-plain`: the body of the outer frame. */
export function encodePlainEvent(headers: HeaderList, body: string | null = null): Buffer {
  let out = '';
  for (const [k, v] of headers) {
    const value = typeof v === 'string' ? v : v.length === 1 ? (v[0] as string) : 'ARRAY::' + v.join('|:');
    out += `${k}: ${percentEncode(value)}\n`;
  }
  if (body === null) return Buffer.from(out + '\n', 'latin1');
  const bodyBuf = Buffer.from(body, 'utf8');
  return Buffer.concat([Buffer.from(`${out}Content-Length: ${bodyBuf.length}\n\n`, 'latin1'), bodyBuf]);
}

/** Serialize as cJSON does for `text/event-json`: compact, keys in order, duplicates repeated. */
export function encodeJsonEvent(headers: HeaderList, body: string | null = null): Buffer {
  const parts: string[] = [];
  for (const [k, v] of headers) {
    const value = typeof v === 'string' || v.length !== 1 ? v : v[0];
    parts.push(`${JSON.stringify(k)}:${JSON.stringify(value)}`);
  }
  if (body !== null) {
    parts.push(`"Content-Length":"${Buffer.byteLength(body, 'utf8')}"`);
    parts.push(`"_body":${JSON.stringify(body)}`);
  }
  return Buffer.from(`{${parts.join(',')}}`, 'utf8');
}
