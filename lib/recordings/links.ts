/**
 * The RECORD_URL mode (issue 4, optional): Bitrix24 pulls a recording from this service
 * at a signed, expiring URL instead of the service pushing it. The URL names the file
 * (base64url of its path) and is signed with HMAC-SHA256 over path and expiry; the
 * file is still confined to FSB24_RECORDINGS_DIRS when it is served.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { realClock, type Clock } from '../clock.js';

export class RecordingLinks {
  constructor(
    private readonly secret: Buffer,
    private readonly clock: Pick<Clock, 'now'> = realClock,
  ) {}

  static newSecret(): string {
    return randomBytes(32).toString('hex');
  }

  sign(path: string, expiresAtSec: number): string {
    return createHmac('sha256', this.secret).update(`${path}\n${expiresAtSec}`).digest('base64url');
  }

  /** `/recordings/<id>/<name>?exp=..&sig=..` relative to the public URL. */
  link(path: string, name: string, ttlSec: number, nowMs = this.clock.now()): string {
    const exp = Math.floor(nowMs / 1000) + ttlSec;
    const id = Buffer.from(path).toString('base64url');
    return `/recordings/${id}/${encodeURIComponent(name)}?exp=${exp}&sig=${this.sign(path, exp)}`;
  }

  /** The path a request may read, or why not ('forbidden' | 'expired'). */
  check(id: string, exp: string, sig: string, nowMs = this.clock.now()): { path: string } | 'forbidden' | 'expired' {
    if (!/^[A-Za-z0-9_-]{1,2000}$/.test(id) || !/^\d{1,12}$/.test(exp) || !/^[A-Za-z0-9_-]{43}$/.test(sig))
      return 'forbidden';
    const path = Buffer.from(id, 'base64url').toString('utf8');
    const want = Buffer.from(this.sign(path, Number(exp)));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return 'forbidden';
    if (Number(exp) * 1000 < nowMs) return 'expired';
    return { path };
  }
}
