/**
 * POST /freeswitch/cdr: what mod_json_cdr posts when each leg ends (test/fixtures/cdr: JSON,
 * `cdr=` + URL-encoded or base64 JSON, by Content-Type; `?uuid=` appended to the URL). The route
 * reads the raw bytes itself (its own parsers: a form body must not be form-decoded first) and
 * answers 200 only once the CDR is durable: any other answer makes FreeSWITCH retry, then write
 * the CDR to its spool, which the service imports (FSB24_CDR_SPOOL_DIRS). A bad body is a 400
 * and changes nothing. With FSB24_CDR_CREDENTIALS, mod_json_cdr's `cred` (basic auth) is required.
 */
import type { FastifyInstance } from 'fastify';
import { httpReplyOf } from '../errors.js';
import type { Logger } from '../log.js';
import { CdrParseError, CdrUnauthorized, checkCdrCredentials, type CdrLeg } from '../cdr/parse.js';

export interface CdrRoutePorts {
  log: Logger;
  /** `user:password` mod_json_cdr must send; empty: none asked. */
  credentials: string;
  parse(body: Buffer, contentType: string | undefined): CdrLeg;
  /** Durable when it resolves (held, in the outbox, or known to be sent already). */
  accept(leg: CdrLeg): Promise<void>;
}

/** A CDR is 6–16 KB (fixtures/cdr); a long call with many transfers and applications stays far below this. */
export const CDR_BODY_LIMIT = 4 * 1024 * 1024;

export function cdrRoutes(app: FastifyInstance, p: CdrRoutePorts): void {
  void app.register(async (scope) => {
    // raw bytes whatever the type (application/json, x-www-form-urlencoded, x-www-form-base64-encoded)
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: CDR_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );
    scope.post('/freeswitch/cdr', { bodyLimit: CDR_BODY_LIMIT }, async (req, reply) => {
      try {
        checkCdrCredentials(req.headers.authorization, p.credentials);
      } catch (err) {
        if (!(err instanceof CdrUnauthorized)) throw err;
        p.log.warn({ err, from: req.ip }, 'CDR refused');
        const { status, body } = httpReplyOf(err);
        return reply.code(status).header('www-authenticate', 'Basic realm="freeswitch-bitrix24"').send(body);
      }
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let leg: CdrLeg;
      try {
        leg = p.parse(raw, req.headers['content-type']);
      } catch (err) {
        if (!(err instanceof CdrParseError)) throw err;
        p.log.warn({ err, uuid: queryUuid(req.query), bytes: raw.length }, 'CDR refused');
        const { status, body } = httpReplyOf(err);
        return reply.code(status).send(body);
      }
      // a store that fails throws: a 5xx, FreeSWITCH retries and then spools the CDR
      await p.accept(leg);
      return reply.code(200).send({ ok: true });
    });
  });
}

function queryUuid(q: unknown): string | undefined {
  const v = (q as Record<string, unknown> | null)?.uuid;
  return typeof v === 'string' ? v.slice(0, 64) : undefined;
}
