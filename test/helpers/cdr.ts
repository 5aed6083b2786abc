/**
 * The CDR captures of test/fixtures/cdr (a real FreeSWITCH 1.11.1 with mod_json_cdr; its README):
 * each `*.post.txt` is one request byte for byte. Replayed here over a plain TCP socket as
 * FreeSWITCH sent it, or written to a spool directory as FreeSWITCH writes a failed post (the
 * body + one LF, `<uuid>.cdr.json`: fixtures/cdr/README.md "Spool").
 */
import { connect } from 'node:net';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CDR_FIXTURES_DIR } from './fixtures.js';

export interface CdrCapture {
  name: string;
  requestLine: string;
  /** Header lines as captured, in order. */
  headers: Array<[string, string]>;
  body: Buffer;
  /** This leg's uuid (the `?uuid=` FreeSWITCH appends). */
  uuid: string;
  contentType: string;
}

/** The recordings directory the captures name (sanitized, fixtures/cdr/README.md). */
export const CAPTURED_RECORDINGS = '/var/lib/freeswitch/recordings';

export function cdrCapture(name: string): CdrCapture {
  const raw = readFileSync(join(CDR_FIXTURES_DIR, name.endsWith('.txt') ? name : `${name}.post.txt`));
  const end = raw.indexOf('\r\n\r\n');
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const requestLine = lines[0] as string;
  const headers = lines.slice(1).map((l): [string, string] => {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1).trim()];
  });
  const uuid = /\?uuid=([0-9a-f-]{36})/.exec(requestLine)?.[1];
  if (!uuid) throw new Error(`${name}: no ?uuid= in ${requestLine}`);
  const contentType = headers.find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
  return { name, requestLine, headers, body: raw.subarray(end + 4), uuid, contentType };
}

/** Every leg of one captured call (`inbound-answered` → its three `.post.txt`), A leg first. */
export function cdrCall(prefix: string): CdrCapture[] {
  const names = readdirSync(CDR_FIXTURES_DIR).filter((f) => f.startsWith(`${prefix}.`) && f.endsWith('.post.txt'));
  if (names.length === 0) throw new Error(`no capture ${prefix}.*.post.txt`);
  return names.sort((a, b) => Number(b.includes('.a-leg.')) - Number(a.includes('.a-leg.'))).map(cdrCapture);
}

/** The capture with the recordings directory moved (as the README's sanitization did), lengths kept right. */
export function withRecordingsDir(c: CdrCapture, dir: string): CdrCapture {
  const body = Buffer.from(c.body.toString('utf8').split(CAPTURED_RECORDINGS).join(dir), 'utf8');
  return { ...c, body };
}

/** The request bytes: the captured request line and headers (Content-Length made to fit) and body. */
export function requestBytes(c: CdrCapture, extraHeaders: Array<[string, string]> = []): Buffer {
  const head = [
    c.requestLine,
    ...c.headers.map(([k, v]) => `${k}: ${k.toLowerCase() === 'content-length' ? c.body.length : v}`),
    ...extraHeaders.map(([k, v]) => `${k}: ${v}`),
  ].join('\r\n');
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), c.body]);
}

/** Send a capture to the service as FreeSWITCH did (one connection per request); resolves with the status. */
export function replayPost(url: string, c: CdrCapture, extraHeaders: Array<[string, string]> = []): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect({ host: hostname, port: Number(port) }, () => sock.write(requestBytes(c, extraHeaders)));
    let got = '';
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m && got.includes('\r\n\r\n')) {
        sock.destroy();
        resolve(Number(m[1]));
      }
    });
    sock.on('error', reject);
  });
}

/** What mod_json_cdr writes to its err-log-dir when a post fails (encode=false): the body and one LF. */
export function writeSpool(dir: string, c: CdrCapture, prefixA = false): string {
  const name = `${prefixA ? 'a_' : ''}${c.uuid}.cdr.json`;
  writeFileSync(join(dir, name), Buffer.concat([c.body, Buffer.from('\n')]));
  return name;
}
