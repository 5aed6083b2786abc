/**
 * The service's HTTP side, built by a factory so tests drive it with inject()
 * (design.md convention 7): POST /bitrix24/events for every Bitrix24 event, GET
 * /healthz. Bodies are parsed with qs so data[...] and auth[...] stay nested.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import qs from 'qs';
import type { Logger } from '../log.js';
import { BadEvent, MissingToken, parseEvent, type ParsedEvent } from './event-body.js';

export interface EventHandlers {
  /** Decide whether the event is authentic; throw to refuse (401). */
  verify(ev: ParsedEvent): Promise<void> | void;
  /** Called after the 200 went out: the work happens here. */
  handle(ev: ParsedEvent): Promise<void>;
}

export interface AppDeps {
  log: Logger;
  bodyLimit: number;
  events: EventHandlers;
  health: () => { ok: boolean; body: Record<string, unknown> };
  extraRoutes?: (app: FastifyInstance) => void;
}

export class Unauthorized extends Error {
  override readonly name = 'Unauthorized';
  readonly code = 'HTTP_ERR_UNAUTHORIZED';
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: deps.bodyLimit });
  void app.register(formbody, { parser: (s: string) => qs.parse(s, { depth: 5, arrayLimit: 100, parameterLimit: 500 }), bodyLimit: deps.bodyLimit });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) deps.log.error({ err: err.message }, 'http handler error');
    const message = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'request body is too large' : status >= 500 ? 'internal error' : err.message;
    return reply.code(status).send({ error: err.code ?? 'ERROR', message });
  });
  app.post('/bitrix24/events', async (req, reply) => {
    let ev: ParsedEvent;
    try {
      ev = parseEvent(req.body);
    } catch (err) {
      if (err instanceof MissingToken) deps.log.warn({ reason: err.message }, 'bitrix24 event refused');
      const status = err instanceof MissingToken ? 401 : 400;
      if (err instanceof BadEvent) return reply.code(status).send({ error: err.code, message: err.message });
      throw err;
    }
    try {
      await deps.events.verify(ev);
    } catch (err) {
      deps.log.warn({ event: ev.event, memberId: ev.auth.memberId, reason: (err as Error).message }, 'bitrix24 event refused');
      const status = err instanceof Unauthorized ? 401 : err instanceof BadEvent ? 400 : 403;
      return reply.code(status).send({ error: (err as { code?: string }).code ?? 'HTTP_ERR_REFUSED', message: (err as Error).message });
    }
    // answer at once; the work goes on after (Bitrix24 does not retry, and spaces out slow handlers)
    setImmediate(() => {
      deps.events.handle(ev).catch((err: Error) => deps.log.error({ event: ev.event, err: err.message }, 'bitrix24 event handling failed'));
    });
    return reply.code(200).send({ ok: true });
  });
  app.get('/healthz', async (_req, reply) => {
    const h = deps.health();
    return reply.code(h.ok ? 200 : 503).send(h.body);
  });
  deps.extraRoutes?.(app);
  return app;
}
