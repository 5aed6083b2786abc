/**
 * What the service sets up on the portal (bitrix24-telephony.md §10.6, §6): the two call
 * event handlers, bound to FSB24_PUBLIC_URL/bitrix24/events (replacing handlers left at
 * an old public URL), and the configured lines. Used by the install handler,
 * `freeswitch-bitrix24 bind` and (configuredLines) `check`.
 */
import type { ConfigShape } from '../config.js';
import type { Logger } from '../log.js';
import type { Bitrix24Client } from './client.js';
import { isAlreadyBound, isLineExists } from './errors.js';

export const CALL_EVENTS = ['ONEXTERNALCALLSTART', 'ONEXTERNALCALLBACKSTART'] as const;

export interface BoundHandler {
  event: string;
  handler: string;
  auth_type?: string;
}

export interface ProvisionReport {
  /** Events bound to the handler URL (already bound counts). */
  bound: string[];
  /** Handlers of our events that pointed elsewhere and were unbound. */
  replaced: BoundHandler[];
  /** Lines registered (added, or already there and updated). */
  lines: string[];
  /** Lines the portal refused, with its reason. */
  failed: Array<{ number: string; error: string }>;
}

/** Every LINE_NUMBER the configuration can send: DID lines, lines with a gateway, gateway lines. */
export function configuredLines(c: Readonly<ConfigShape>): string[] {
  return [
    ...new Set([
      ...Object.values(c.calls.lines),
      ...Object.keys(c.calls.lineGateways),
      ...Object.values(c.calls.gatewayLines),
    ]),
  ].sort();
}

/** event.get, parsed: only entries with an event and a handler. */
export async function boundHandlers(client: Bitrix24Client): Promise<BoundHandler[]> {
  const list = await client.call<unknown>('event.get');
  if (!Array.isArray(list)) return [];
  return list.flatMap((h) => {
    const o = (h ?? {}) as Record<string, unknown>;
    if (typeof o.event !== 'string' || typeof o.handler !== 'string') return [];
    return [
      {
        event: o.event.toUpperCase(),
        handler: o.handler,
        ...(o.auth_type !== undefined ? { auth_type: String(o.auth_type) } : {}),
      },
    ];
  });
}

/**
 * Bind our call events to `handler`, then unbind the same events left at any other URL
 * (an old FSB24_PUBLIC_URL): bound first, so no event falls between the two.
 */
export async function bindHandlers(
  client: Bitrix24Client,
  handler: string,
): Promise<Pick<ProvisionReport, 'bound' | 'replaced'>> {
  const before = await boundHandlers(client);
  const bound: string[] = [];
  for (const event of CALL_EVENTS) {
    if (!before.some((h) => h.event === event && h.handler === handler)) {
      try {
        await client.call('event.bind', { event, handler });
      } catch (err) {
        if (!isAlreadyBound(err)) throw err;
      }
    }
    bound.push(event);
  }
  const replaced: BoundHandler[] = [];
  for (const h of before.filter((x) => (CALL_EVENTS as readonly string[]).includes(x.event) && x.handler !== handler)) {
    await client.call('event.unbind', {
      event: h.event,
      handler: h.handler,
      ...(h.auth_type !== undefined ? { auth_type: h.auth_type } : {}),
    });
    replaced.push(h);
  }
  return { bound, replaced };
}

/** telephony.externalLine.add each line; one that exists is updated (not an error); refusals are reported. */
export async function registerLines(
  client: Bitrix24Client,
  numbers: string[],
): Promise<Pick<ProvisionReport, 'lines' | 'failed'>> {
  const lines: string[] = [];
  const failed: ProvisionReport['failed'] = [];
  for (const number of numbers) {
    const line = { NUMBER: number, NAME: `FreeSWITCH ${number}` };
    try {
      try {
        await client.call('telephony.externalLine.add', line);
      } catch (err) {
        if (!isLineExists(err)) throw err;
        await client.call('telephony.externalLine.update', line);
      }
      lines.push(number);
    } catch (err) {
      failed.push({ number, error: (err as Error).message });
    }
  }
  return { lines, failed };
}

/** The whole setup; event handlers only with the application (a webhook cannot bind events). */
export async function provision(o: {
  client: Bitrix24Client;
  config: Readonly<ConfigShape>;
  handlerUrl: string;
  log: Logger;
}): Promise<ProvisionReport> {
  const handlers = o.client.mode === 'oauth' ? await bindHandlers(o.client, o.handlerUrl) : { bound: [], replaced: [] };
  for (const h of handlers.replaced)
    o.log.warn({ event: h.event, old: h.handler, handler: o.handlerUrl }, 'event handler moved from an old public URL');
  const lines = await registerLines(o.client, configuredLines(o.config));
  for (const f of lines.failed) o.log.error({ line: f.number, err: f.error }, 'line not registered');
  o.log.info({ bound: handlers.bound, lines: lines.lines, failed: lines.failed.length }, 'portal provisioned');
  return { ...handlers, ...lines };
}

/** What `freeswitch-bitrix24 bind` prints: what was done, and only that. */
export function bindReport(r: ProvisionReport, mode: 'oauth' | 'webhook', handlerUrl: string): string[] {
  const out: string[] = [];
  out.push(
    mode === 'webhook'
      ? 'event handlers: none (webhook mode: only the application can bind events)'
      : `event handlers: ${r.bound.join(', ')} bound to ${handlerUrl}`,
  );
  for (const h of r.replaced) out.push(`  replaced: ${h.event} at ${h.handler} (unbound)`);
  if (r.lines.length > 0) out.push(`lines registered: ${r.lines.join(', ')}`);
  else if (r.failed.length === 0)
    out.push('lines: none configured (FSB24_LINES, FSB24_GATEWAY_LINES, FSB24_LINE_GATEWAYS)');
  for (const f of r.failed) out.push(`line NOT registered: ${f.number}: ${f.error}`);
  return out;
}
