/**
 * The events a phone's registration fires: `sofia::register` and `sofia::unregister`
 * (fixtures: registrations.*; a tenant domain's in tenants/tenant-a-register.*: realm,
 * from-host and to-host name the domain, and FusionPBX's directory variables follow).
 */

/** What the registration events need of the switch (an interface, so no import cycle with switch.ts). */
export interface Registrar {
  readonly domain: string;
  setExtension(ext: string, setup: { registered: boolean }, domain?: string): void;
  phonePort(ext: string, domain?: string): number;
  /** A tenant domain's domain_uuid; null for the switch's own. */
  domainUuid(domain?: string): string | null;
  emitSystem(name: string, calling: [string, string, string], rest: Array<[string, string]>): void;
}

/** `sofia::register` for an extension of a domain (default: the switch's own). */
export function sofiaRegister(sw: Registrar, ext: string, expires: number, domain?: string): void {
  sw.setExtension(ext, { registered: true }, domain);
  const port = sw.phonePort(ext, domain);
  const host = (domain ?? sw.domain).toLowerCase();
  const uuid = sw.domainUuid(domain);
  // a tenant's user carries its directory variables (tenant-a-register.*)
  const tenant: Array<[string, string]> = uuid
    ? [
        ['sip_number_alias', ext],
        ['sip_auth_username', ext],
        ['sip_auth_realm', host],
        ['number_alias', ext],
        ['user_name', ext],
        ['record_stereo', 'true'],
        ['domain_uuid', uuid],
        ['domain_name', host],
        ['user_context', host],
        ['accountcode', host],
      ]
    : [];
  sw.emitSystem(
    'CUSTOM',
    ['sofia_reg.c', 'sofia_reg_handle_register_token', '2059'],
    [
      ['Event-Subclass', 'sofia::register'],
      ['profile-name', 'internal'],
      ['from-user', ext],
      ['from-host', host],
      ['presence-hosts', 'n/a'],
      ['contact', `"" <sip:${ext}@127.0.0.1:${port};transport=UDP>`],
      ['call-id', `1-${port}@127.0.0.1`],
      ['rpid', 'unknown'],
      ['status', 'Registered(UDP)'],
      ['expires', String(expires)],
      ['to-user', ext],
      ['to-host', host],
      ['network-ip', '127.0.0.1'],
      ['network-port', String(port)],
      ['username', ext],
      ['realm', host],
      ['user-agent', `sipp-ext-${ext}`],
      ...tenant,
    ],
  );
}

export function sofiaUnregister(sw: Registrar, ext: string, domain?: string): void {
  sw.setExtension(ext, { registered: false }, domain);
  const port = sw.phonePort(ext, domain);
  const host = (domain ?? sw.domain).toLowerCase();
  sw.emitSystem(
    'CUSTOM',
    ['sofia_reg.c', 'sofia_reg_handle_register_token', '1950'],
    [
      ['Event-Subclass', 'sofia::unregister'],
      ['profile-name', 'internal'],
      ['username', ext],
      ['from-user', ext],
      ['from-host', host],
      ['contact', `"" <sip:${ext}@127.0.0.1:${port};transport=UDP>`],
      ['call-id', `1-${port}@127.0.0.1`],
      ['rpid', 'unknown'],
      ['realm', host],
      ['network-ip', '127.0.0.1'],
      ['network-port', String(port)],
      ['user-agent', `sipp-ext-${ext}`],
      ['expires', '0'],
    ],
  );
}
