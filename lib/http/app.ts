/**
 * The service's HTTP side, built by a factory so tests drive it with inject()
 * (design.md convention 7): POST /bitrix24/events for every Bitrix24 event, GET
 * /healthz. Bodies are parsed with qs so data[...] and auth[...] stay nested.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import qs from 'qs';
import type { Logger } from '../log.js';
import { BadEvent, MissingToken, parseEvent, type ParsedEvent } from '../bitrix24/event-body.js';

export { Unauthorized } from '../bitrix24/event-body.js';
import { httpReplyOf, logLevelOf } from '../errors.js';

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
  health: () => Promise<{ ok: boolean; body: Record<string, unknown> }>;
  extraRoutes?: (app: FastifyInstance) => void;
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: deps.bodyLimit });
  void app.register(formbody, {
    parser: (s: string) => qs.parse(s, { depth: 5, arrayLimit: 100, parameterLimit: 500 }),
    bodyLimit: deps.bodyLimit,
  });
  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = httpReplyOf(err);
    if (status >= 500) deps.log[logLevelOf(err)]({ err }, 'http handler error');
    return reply.code(status).send(body);
  });
  app.post('/bitrix24/events', async (req, reply) => {
    let ev: ParsedEvent;
    try {
      ev = parseEvent(req.body);
    } catch (err) {
      if (!(err instanceof BadEvent || err instanceof MissingToken)) throw err;
      if (err instanceof MissingToken) deps.log.warn({ err }, 'bitrix24 event refused');
      const { status, body } = httpReplyOf(err);
      return reply.code(status).send(body);
    }
    try {
      await deps.events.verify(ev);
    } catch (err) {
      const { status, body } = httpReplyOf(err);
      deps.log[logLevelOf(err)]({ event: ev.event, memberId: ev.auth.memberId, err }, 'bitrix24 event refused');
      return reply.code(status).send(body);
    }
    // answer at once; the work goes on after (Bitrix24 does not retry, and spaces out slow handlers)
    setImmediate(() => {
      deps.events
        .handle(ev)
        .catch((err: unknown) => deps.log.error({ event: ev.event, err }, 'bitrix24 event handling failed'));
    });
    return reply.code(200).send({ ok: true });
  });
  app.get('/healthz', async (_req, reply) => {
    const h = await deps.health();
    return reply.code(h.ok ? 200 : 503).send(h.body);
  });
  deps.extraRoutes?.(app);
  return app;
}
