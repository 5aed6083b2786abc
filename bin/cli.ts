/**
 * freeswitch-bitrix24 <command>: the composition root; the only place that exits.
 *   start [--config FILE]   run the service
 *   demo [--tenants]        a day in an office (or two companies on one switch) against the stand-ins
 *   check [--config FILE]   check a real setup, point by point
 *   bind  [--config FILE]   bind the event handlers and register the lines now
 *   connect [--config FILE] print the address to open in the admin's browser to connect the portal
 *   tenants [--config FILE] the portals of FSB24_TENANTS: their domains, lines, gateways and state
 *   config                  print the configuration reference
 */
import { loadConfig, ConfigError, configReference, configMarkdown, withConfigReference } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { compose } from './compose.js';
import { connectUrl } from '../lib/http/connect.js';

const USAGE = `usage: freeswitch-bitrix24 <start|demo|check|bind|connect|tenants|config> [--config FILE]
  start    run the service (config from --config FILE and FSB24_* variables)
  demo     play a day in an office against the built-in FreeSWITCH and Bitrix24 stand-ins
           (--tenants: two companies on one switch, each with its own portal)
  check    check the configuration, the event socket and the portal, with fixes
  bind     bind Bitrix24 event handlers and register the lines now
  connect  print the address to open in the admin's browser to connect the portal (OAuth)
  tenants  list the portals (FSB24_TENANTS), their domains, lines and gateways, and their state
  config   print every setting with its environment variable and default`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export async function main(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const [cmd, ...rest] = args;
  const file = option(rest, '--config');
  try {
    switch (cmd) {
      case 'start': {
        const config = loadConfig({ ...(file ? { file } : {}), env });
        const log = createLogger(config.logLevel, { pretty: process.stdout.isTTY === true });
        for (const s of config.switches)
          if (s.password === 'ClueCon')
            log.warn(
              { switch: s.name },
              'the event socket password is the FreeSWITCH default (ClueCon): set a real one in event_socket.conf.xml',
            );
        const svc = compose({ config, log });
        await svc.start();
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        log.info('stopping');
        await svc.stop();
        return 0;
      }
      case 'demo': {
        if (rest.includes('--tenants')) {
          const { runTenantsDemo, renderTenants } = await import('../lib/demo/tenants.js');
          const demo = await runTenantsDemo((l) => console.log(l), { compose });
          console.log('\nWhat each portal ended up with:\n');
          console.log(renderTenants(demo.rows));
          const stats = await Promise.all(demo.service.portals.map((p) => p.store.stats()));
          const failed = stats.reduce((n, s) => n + s.failed, 0);
          await demo.close();
          return demo.rows.length === 4 && failed === 0 ? 0 : 1;
        }
        const { runDemo, render } = await import('../lib/demo/demo.js');
        const started = Date.now();
        const { rows, stack } = await runDemo((l) => console.log(l), { compose });
        console.log('\nWhat the Bitrix24 portal ended up with:\n');
        console.log(render(rows));
        const failed = (await stack.service.store.stats()).failed;
        await stack.close();
        console.log(
          `\n${rows.length} calls in ${((Date.now() - started) / 1000).toFixed(1)} s; outbox failures: ${failed}`,
        );
        return rows.length === 8 && failed === 0 ? 0 : 1;
      }
      case 'check': {
        const { runCheck } = await import('../lib/check.js');
        return await runCheck({ ...(file ? { file } : {}), env }, (l) => console.log(l));
      }
      case 'tenants': {
        const { tenantsReport } = await import('../lib/check.js');
        const config = loadConfig({ ...(file ? { file } : {}), env });
        for (const line of await tenantsReport(config)) console.log(line);
        return 0;
      }
      case 'bind': {
        const config = loadConfig({ ...(file ? { file } : {}), env });
        if (!config.b24.webhookUrl && !config.publicUrl) {
          console.error('FSB24_PUBLIC_URL is not set: Bitrix24 sends events to FSB24_PUBLIC_URL/bitrix24/events');
          return 2;
        }
        const svc = compose({ config, log: createLogger(config.logLevel, { pretty: process.stdout.isTTY === true }) });
        try {
          const { bindReport } = await import('../lib/bitrix24/provision.js');
          const r = await svc.portal.bind();
          for (const line of bindReport(r, svc.portal.client.mode, svc.portal.handlerUrl())) console.log(line);
          return r.failed.length === 0 ? 0 : 1;
        } finally {
          await svc.stop();
        }
      }
      case 'connect': {
        const config = loadConfig({ ...(file ? { file } : {}), env });
        const base = config.publicUrl || `http://${config.http.host}:${config.http.port}`;
        console.log(connectUrl(config.publicUrl, base));
        console.log(
          `open it in a browser logged in to ${config.b24.portalUrl || 'the portal'} as an administrator; ` +
            `the application's handler address must be ${new URL('/bitrix24/oauth/callback', base).href}`,
        );
        return 0;
      }
      case 'config': {
        if (rest.includes('--markdown')) console.log(configMarkdown());
        else
          for (const r of configReference())
            console.log(`${r.env.padEnd(34)} ${r.key.padEnd(32)} default ${r.default}\n${''.padEnd(35)}${r.doc}`);
        return 0;
      }
      case 'docs': {
        // rewrite the README's configuration reference from the schema
        const { readFileSync, writeFileSync } = await import('node:fs');
        const path = new URL('../../README.md', import.meta.url);
        writeFileSync(path, withConfigReference(readFileSync(path, 'utf8')));
        return 0;
      }
      default:
        console.error(USAGE);
        return cmd === undefined || cmd === '--help' || cmd === 'help' ? 0 : 2;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
}
