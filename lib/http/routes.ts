/**
 * The service's own routes besides the Bitrix24 events: the dialplan's routing lookup,
 * recordings by signed link (url mode), and Prometheus metrics.
 */
import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { PortalUnit } from '../portal/unit.js';
import { PHONE } from '../patterns.js';

/** What the routes need: the portal (lookup, links, uploads) and the switch's model. */
export interface RoutePorts {
  log: Logger;
  portal: RoutePortal;
  /** With several portals: the one a lookup's domain, else DID, belongs to (null: none). */
  portalFor?: (did: string | undefined, domain: string | undefined) => RoutePortal | null;
  /** Every portal (a recording link is checked against each one's secret). */
  portals?: () => readonly RoutePortal[];
  /** A routed caller: the call model registers the call for that extension, at the portal asked. */
  routed: (caller: string, extension: string, portal?: RoutePortal) => Promise<void>;
  registry: Registry;
}

/** A portal's lookup (several instances: answered by the instance holding the portal), links and files. */
export type RoutePortal = Pick<PortalUnit, 'links' | 'uploader'> & { router: Pick<PortalUnit['router'], 'route'> };

export function serviceRoutes(app: FastifyInstance, svc: RoutePorts): void {
  // the dialplan asks (mod_curl): which extension should ring first for this caller?
  app.get('/route', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const caller = routeCaller(q.caller);
    if (!caller.ok) {
      const refused = { caller: printable(q.caller), did: printable(q.did), reason: caller.reason };
      svc.log.debug(refused, 'routing lookup refused');
      return reply.code(400).type('text/plain').send('');
    }
    const did = typeof q.did === 'string' && q.did !== '' ? q.did : undefined;
    const domain = typeof q.domain === 'string' && q.domain !== '' ? q.domain : undefined;
    const portal = svc.portalFor ? svc.portalFor(did, domain) : svc.portal;
    if (!portal) {
      const asked = { caller: caller.number, did: printable(q.did), domain: printable(q.domain) };
      svc.log.info(asked, 'routing lookup: no portal');
      return reply.type('text/plain').send('');
    }
    const answer = await portal.router.route(caller.number);
    // durable before the dialplan hears the answer
    if (answer.extension) await svc.routed(caller.number, answer.extension, portal);
    const { extension, reason, cached } = answer;
    svc.log.info({ caller: caller.number, extension, reason, cached }, 'routing lookup');
    return reply.type('text/plain').send(answer.extension ?? '');
  });
  // url mode: Bitrix24 fetches a recording here with a signed, expiring link
  app.get('/recordings/:id/:name', async (req, reply) => {
    const { id } = req.params as { id: string };
    const q = req.query as Record<string, unknown>;
    let owner: RoutePortal = svc.portal;
    let ok = owner.links.check(id, String(q.exp ?? ''), String(q.sig ?? ''));
    for (const p of svc.portals?.() ?? []) {
      if (ok !== 'forbidden') break;
      owner = p;
      ok = p.links.check(id, String(q.exp ?? ''), String(q.sig ?? ''));
    }
    if (ok === 'forbidden') return reply.code(403).send({ error: 'HTTP_ERR_FORBIDDEN', message: 'bad signature' });
    if (ok === 'expired') return reply.code(410).send({ error: 'HTTP_ERR_EXPIRED', message: 'link expired' });
    const real = await owner.uploader.confine(ok.path);
    if (typeof real !== 'string' || real === 'missing')
      return reply.code(404).send({ error: 'HTTP_ERR_NOT_FOUND', message: 'no such recording' });
    return reply.type(real.endsWith('.mp3') ? 'audio/mpeg' : 'audio/wav').send(createReadStream(real));
  });
  app.get('/metrics', async (_req, reply) => reply.type(svc.registry.contentType).send(await svc.registry.metrics()));
}

/**
 * The caller as the dialplan sends it. A `+` the dialplan did not URL-encode arrives
 * as a space (`caller=+7916…` decodes to " 7916…"): a leading space is read as the `+`.
 */
export function routeCaller(raw: unknown): { ok: true; number: string } | { ok: false; reason: string } {
  if (raw === undefined) return { ok: false, reason: 'no caller parameter' };
  if (typeof raw !== 'string') return { ok: false, reason: 'caller given more than once' };
  const number = raw.replace(/^ (?=\d)/, '+').trim();
  if (number === '') return { ok: false, reason: 'empty caller (anonymous or withheld)' };
  if (!PHONE.test(number)) {
    return { ok: false, reason: 'caller is not a phone number (digits, an optional leading +)' };
  }
  return { ok: true, number };
}

/** A short, printable copy of an untrusted value for the log. */
function printable(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  return JSON.stringify(v).slice(0, 64);
}
