/** The keys of mod_json_cdr's back-fill (lib/cdr/): part of the schema in ./config-schema.ts. */
export const cdrSchema = {
  spoolDirs: {
    doc:
      "mod_json_cdr's err-log-dir(s): CDRs FreeSWITCH failed to POST, imported at start and after every " +
      'event-socket reconnect (comma-separated; the service must read, write and rename there)',
    format: 'string-list',
    default: [],
    env: 'FSB24_CDR_SPOOL_DIRS',
  },
  credentials: {
    doc: 'user:password mod_json_cdr sends (its cred param, basic auth); empty: POST /freeswitch/cdr takes any',
    format: String,
    default: '',
    env: 'FSB24_CDR_CREDENTIALS',
    sensitive: true,
  },
  graceMs: {
    doc:
      "How long a CDR is waited for: a call's late sibling leg, and a finish the service would otherwise " +
      'guess (calls that ended while it was down or its event socket was)',
    format: 'nat',
    default: 20000,
    env: 'FSB24_CDR_GRACE_MS',
  },
  maxAgeHours: {
    doc: 'CDRs of calls that ended longer ago are ignored (finished calls are forgotten after a week); 0: no limit',
    format: 'nat',
    default: 168,
    env: 'FSB24_CDR_MAX_AGE_HOURS',
  },
};
