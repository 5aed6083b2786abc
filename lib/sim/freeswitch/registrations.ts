/** The events a phone's registration fires: `sofia::register` and `sofia::unregister` (fixtures: registrations.*). */

/** What the registration events need of the switch (an interface, so no import cycle with switch.ts). */
export interface Registrar {
  readonly domain: string;
  setExtension(ext: string, setup: { registered: boolean }): void;
  phonePort(ext: string): number;
  emitSystem(name: string, calling: [string, string, string], rest: Array<[string, string]>): void;
}

/** `sofia::register` for an extension (fixtures: registrations.*). */
export function sofiaRegister(sw: Registrar, ext: string, expires: number): void {
  sw.setExtension(ext, { registered: true });
  const port = sw.phonePort(ext);
  sw.emitSystem(
    'CUSTOM',
    ['sofia_reg.c', 'sofia_reg_handle_register_token', '2059'],
    [
      ['Event-Subclass', 'sofia::register'],
      ['profile-name', 'internal'],
      ['from-user', ext],
      ['from-host', sw.domain],
      ['presence-hosts', 'n/a'],
      ['contact', `"" <sip:${ext}@127.0.0.1:${port};transport=UDP>`],
      ['call-id', `1-${port}@127.0.0.1`],
      ['rpid', 'unknown'],
      ['status', 'Registered(UDP)'],
      ['expires', String(expires)],
      ['to-user', ext],
      ['to-host', sw.domain],
      ['network-ip', '127.0.0.1'],
      ['network-port', String(port)],
      ['username', ext],
      ['realm', sw.domain],
      ['user-agent', `sipp-ext-${ext}`],
    ],
  );
}

export function sofiaUnregister(sw: Registrar, ext: string): void {
  sw.setExtension(ext, { registered: false });
  const port = sw.phonePort(ext);
  sw.emitSystem(
    'CUSTOM',
    ['sofia_reg.c', 'sofia_reg_handle_register_token', '1950'],
    [
      ['Event-Subclass', 'sofia::unregister'],
      ['profile-name', 'internal'],
      ['username', ext],
      ['from-user', ext],
      ['from-host', sw.domain],
      ['contact', `"" <sip:${ext}@127.0.0.1:${port};transport=UDP>`],
      ['call-id', `1-${port}@127.0.0.1`],
      ['rpid', 'unknown'],
      ['realm', sw.domain],
      ['network-ip', '127.0.0.1'],
      ['network-port', String(port)],
      ['user-agent', `sipp-ext-${ext}`],
      ['expires', '0'],
    ],
  );
}
