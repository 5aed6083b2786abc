/**
 * The configuration schema itself (convict): every key with its FSB24_* variable, default
 * and doc (its own value formats: lib/config-formats.ts). lib/config.ts loads and checks it.
 */
import './config-formats.js';
import { cdrSchema } from './config-schema-cdr.js';

export type { TenantShape, SwitchShape } from './config-formats.js';

export const schema = {
  esl: {
    host: { doc: 'FreeSWITCH event socket host', format: String, default: '127.0.0.1', env: 'FSB24_ESL_HOST' },
    port: { doc: 'FreeSWITCH event socket port', format: 'port', default: 8021, env: 'FSB24_ESL_PORT' },
    password: {
      doc: 'Event socket password (event_socket.conf.xml)',
      format: String,
      default: 'ClueCon',
      env: 'FSB24_ESL_PASSWORD',
      sensitive: true,
    },
  },
  switches: {
    doc:
      'Several FreeSWITCH event sockets (JSON [{"name","host","port","password"}]); ' +
      'empty: the one socket of FSB24_ESL_HOST/PORT/PASSWORD, named "default" (give one form, not both)',
    format: 'switch-list',
    default: '',
    env: 'FSB24_SWITCHES',
    sensitive: true,
  },
  http: {
    host: { doc: 'Address the HTTP listener binds to', format: String, default: '127.0.0.1', env: 'FSB24_HTTP_HOST' },
    port: {
      doc: 'HTTP listener port (Bitrix24 events, health, metrics, routing lookup)',
      format: 'port',
      default: 8090,
      env: 'FSB24_HTTP_PORT',
    },
    bodyLimit: {
      doc: 'Largest accepted request body, bytes',
      format: 'nat',
      default: 65536,
      env: 'FSB24_HTTP_BODY_LIMIT',
    },
  },
  publicUrl: {
    doc: 'The URL Bitrix24 reaches this service at (event handlers are bound to it + /bitrix24/events)',
    format: 'optional-url',
    default: '',
    env: 'FSB24_PUBLIC_URL',
  },
  dataDir: {
    doc: 'Where durable state lives (SQLite outbox, tokens)',
    format: String,
    default: './data',
    env: 'FSB24_DATA_DIR',
  },
  database: {
    url: {
      doc:
        'PostgreSQL for all durable state instead of SQLite in FSB24_DATA_DIR, postgres://user:password@host:5432/db ' +
        '(several instances may share it; the service creates and migrates its tables at start)',
      format: 'database-url',
      default: '',
      env: 'FSB24_DATABASE_URL',
      sensitive: true,
    },
  },
  b24: {
    portalUrl: {
      doc: 'The portal this service serves, e.g. https://example.bitrix24.com; installs from other portals are refused',
      format: 'optional-url',
      default: '',
      env: 'FSB24_B24_PORTAL_URL',
    },
    clientId: { doc: 'Local application client_id', format: String, default: '', env: 'FSB24_B24_CLIENT_ID' },
    clientSecret: {
      doc: 'Local application client_secret',
      format: String,
      default: '',
      env: 'FSB24_B24_CLIENT_SECRET',
      sensitive: true,
    },
    oauthUrl: {
      doc: 'OAuth server',
      format: 'optional-url',
      default: 'https://oauth.bitrix.info',
      env: 'FSB24_B24_OAUTH_URL',
    },
    webhookUrl: {
      doc: 'Alternative to the app: incoming webhook base URL https://<portal>/rest/<user>/<secret>/',
      format: 'optional-url',
      default: '',
      env: 'FSB24_B24_WEBHOOK_URL',
      sensitive: true,
    },
    appToken: {
      doc: 'With a webhook: the application_token incoming events must carry',
      format: String,
      default: '',
      env: 'FSB24_B24_APP_TOKEN',
      sensitive: true,
    },
    rateBurst: {
      doc: 'Leaky bucket burst (X): 50, or 250 on Enterprise',
      format: 'nat',
      default: 50,
      env: 'FSB24_B24_RATE_BURST',
    },
    rateDrainPerSec: {
      doc: 'Leaky bucket drain (Y) per second: 2, or 5 on Enterprise',
      format: Number,
      default: 2,
      env: 'FSB24_B24_RATE_DRAIN',
    },
    requestTimeoutMs: {
      doc: 'Deadline of every REST request',
      format: 'nat',
      default: 15000,
      env: 'FSB24_B24_TIMEOUT_MS',
    },
    retryBaseMs: {
      doc: 'First retry delay of a failed delivery; doubles per attempt up to a minute',
      format: 'nat',
      default: 500,
      env: 'FSB24_RETRY_BASE_MS',
    },
    batchMax: {
      doc: 'Commands per request to Bitrix24 (batch); 1 sends each command alone (a baseline for benchmarks)',
      format: 'nat',
      default: 50,
      env: 'FSB24_B24_BATCH_MAX',
    },
    directoryRefreshSec: {
      doc: 'How often the extension → user map is refreshed from user.get',
      format: 'nat',
      default: 300,
      env: 'FSB24_DIRECTORY_REFRESH_SEC',
    },
  },
  calls: {
    trunkProfiles: {
      doc: 'Sofia profiles whose legs are trunk legs (a leg on a sofia gateway is one too)',
      format: 'string-list',
      default: ['external'],
      env: 'FSB24_TRUNK_PROFILES',
    },
    trunkIps: {
      doc: 'Carrier addresses whose inbound legs are trunk legs on any profile (comma-separated)',
      format: Array,
      default: [],
      env: 'FSB24_TRUNK_IPS',
    },
    gateway: {
      doc: 'Sofia gateway for calls the service places (click-to-call, callback)',
      format: String,
      default: '',
      env: 'FSB24_GATEWAY',
    },
    didSource: {
      doc: 'Where an incoming trunk leg carries the DID',
      format: ['sip_to_user', 'sip_req_user', 'destination'],
      default: 'sip_to_user',
      env: 'FSB24_DID_SOURCE',
    },
    lines: {
      doc: 'DID → LINE_NUMBER (JSON); a DID not listed is its own line',
      format: 'string-map',
      default: {},
      env: 'FSB24_LINES',
    },
    gatewayLines: {
      doc: 'Gateway → LINE_NUMBER for outgoing calls (JSON); default: the caller ID used',
      format: 'string-map',
      default: {},
      env: 'FSB24_GATEWAY_LINES',
    },
    lineGateways: {
      doc: 'LINE_NUMBER → gateway for click-to-call (JSON); default: FSB24_GATEWAY',
      format: 'string-map',
      default: {},
      env: 'FSB24_LINE_GATEWAYS',
    },
    numberRules: {
      doc: 'Client number rewrites, first match wins (JSON [{"match","replace"}])',
      format: 'rule-list',
      default: [],
      env: 'FSB24_NUMBER_RULES',
    },
    sendInternal: {
      doc: 'Also send calls between extensions',
      format: Boolean,
      default: false,
      env: 'FSB24_SEND_INTERNAL',
    },
    crmCreateIncoming: {
      doc: 'CRM_CREATE for incoming calls',
      format: Boolean,
      default: true,
      env: 'FSB24_CRM_CREATE_INCOMING',
    },
    crmCreateOutgoing: {
      doc: 'CRM_CREATE for outgoing calls',
      format: Boolean,
      default: true,
      env: 'FSB24_CRM_CREATE_OUTGOING',
    },
    addToChat: { doc: 'ADD_TO_CHAT sent with every finish', format: Boolean, default: true, env: 'FSB24_ADD_TO_CHAT' },
    cardPolicy: {
      doc: 'When the call card shows: ring, answer or never',
      format: ['ring', 'answer', 'never'],
      default: 'ring',
      env: 'FSB24_CARD_POLICY',
    },
    cardPolicyByExtension: {
      doc: 'Per-extension card policy (JSON {"1001":"answer"})',
      format: 'string-map',
      default: {},
      env: 'FSB24_CARD_POLICY_BY_EXTENSION',
    },
    defaultUserId: {
      doc: 'Bitrix24 user that owns calls nobody answered or whose extension maps to nobody',
      format: 'nat',
      default: 1,
      env: 'FSB24_DEFAULT_USER_ID',
    },
    ringSeconds: {
      doc: 'How long the employee rings on click-to-call and callback',
      format: 'nat',
      default: 30,
      env: 'FSB24_RING_SECONDS',
    },
    domain: {
      doc: 'Directory domain for user/<ext>@<domain> (empty: user/<ext>)',
      format: String,
      default: '',
      env: 'FSB24_DOMAIN',
    },
    callbackTarget: {
      doc: 'Extension that takes callbacks when the responsible manager cannot',
      format: String,
      default: '',
      env: 'FSB24_CALLBACK_TARGET',
    },
    callbackContext: {
      doc:
        'Dialplan context that speaks the callback text or plays the prompt, then dials the client ' +
        '(conf/freeswitch/dialplan); used only when FSB24_TTS_ENGINE or FSB24_CALLBACK_PROMPT is set',
      format: String,
      default: 'freeswitch-bitrix24',
      env: 'FSB24_CALLBACK_CONTEXT',
    },
    ttsEngine: {
      doc: 'TTS engine for the callback text (e.g. flite); empty: play the prompt file',
      format: String,
      default: '',
      env: 'FSB24_TTS_ENGINE',
    },
    promptFile: {
      doc:
        'Prompt played to the employee before a callback when there is no TTS (a file on the FreeSWITCH host); ' +
        'empty: none',
      format: String,
      default: '',
      env: 'FSB24_CALLBACK_PROMPT',
    },
    registerHoldMs: {
      doc: 'An incoming call is registered when the first phone rings, or after this long (IVR, queue)',
      format: 'nat',
      default: 300,
      env: 'FSB24_REGISTER_HOLD_MS',
    },
    cardWindowMs: {
      doc: 'show/hide within this window are coalesced into one request',
      format: 'nat',
      default: 300,
      env: 'FSB24_CARD_WINDOW_MS',
    },
  },
  routing: {
    deadlineMs: {
      doc: 'Hard deadline of the responsible-manager lookup; after it the answer is "nothing"',
      format: 'nat',
      default: 800,
      env: 'FSB24_ROUTE_DEADLINE_MS',
    },
    cacheSec: {
      doc: 'How long a lookup result is reused for the same number',
      format: 'nat',
      default: 60,
      env: 'FSB24_ROUTE_CACHE_SEC',
    },
  },
  recordings: {
    dirs: {
      doc: 'Directories recordings may be read from',
      format: 'string-list',
      default: ['/var/lib/freeswitch/recordings'],
      env: 'FSB24_RECORDINGS_DIRS',
    },
    variable: {
      doc: 'Channel variable a dialplan sets to the recording path',
      format: String,
      default: 'b24_record_path',
      env: 'FSB24_RECORDING_VARIABLE',
    },
    choose: {
      doc: 'Which recordings of a call to attach: all, first or last',
      format: ['all', 'first', 'last'],
      default: 'all',
      env: 'FSB24_RECORDINGS_ATTACH',
    },
    inlineMaxBytes: {
      doc: 'Recordings up to this size go as base64 FILE_CONTENT; larger ones through uploadUrl',
      format: 'nat',
      default: 4194304,
      env: 'FSB24_RECORDINGS_INLINE_MAX_BYTES',
    },
    stableMs: {
      doc: 'A recording is sent once unchanged for this long',
      format: 'nat',
      default: 2000,
      env: 'FSB24_RECORDINGS_STABLE_MS',
    },
    giveUpSec: {
      doc: 'A recording still missing (or empty) after this long is given up, with the reason kept',
      format: 'nat',
      default: 600,
      env: 'FSB24_RECORDINGS_GIVE_UP_SEC',
    },
    mode: {
      doc:
        'upload: the service sends each recording; ' +
        'url: Bitrix24 fetches it from a signed, expiring FSB24_PUBLIC_URL/recordings/... link',
      format: ['upload', 'url'],
      default: 'upload',
      env: 'FSB24_RECORDINGS_MODE',
    },
    urlTtlSec: {
      doc: 'How long a signed recording link stays valid (url mode)',
      format: 'nat',
      default: 3600,
      env: 'FSB24_RECORDINGS_URL_TTL_SEC',
    },
    placedCalls: {
      doc:
        'Record the calls the service places (click-to-call, callback) from the answer, ' +
        'into the first of FSB24_RECORDINGS_DIRS',
      format: Boolean,
      default: true,
      env: 'FSB24_RECORD_PLACED_CALLS',
    },
    deleteAfterUpload: {
      doc: 'Delete the local file once Bitrix24 confirmed the upload',
      format: Boolean,
      default: false,
      env: 'FSB24_RECORDINGS_DELETE',
    },
  },
  events: {
    mode: {
      doc:
        'online: Bitrix24 POSTs events to FSB24_PUBLIC_URL/bitrix24/events; ' +
        'offline: the service pulls them (no public address needed)',
      format: ['online', 'offline'],
      default: 'online',
      env: 'FSB24_EVENTS_MODE',
    },
    offlinePollMs: {
      doc: 'Offline mode: how often the event queue is pulled when no batch is going out anyway',
      format: 'nat',
      default: 1000,
      env: 'FSB24_OFFLINE_POLL_MS',
    },
  },
  cdr: cdrSchema,
  tenants: {
    doc:
      'Several portals (JSON {"https://<portal>": {"domains": [...], "lines": [...], "gateways": [...]}}); ' +
      'empty: FSB24_B24_PORTAL_URL alone',
    format: 'tenant-map',
    default: '',
    env: 'FSB24_TENANTS',
  },
  instanceId: {
    doc: "This instance's name among several on one database (/healthz, leases); empty: <hostname>:<pid>",
    format: String,
    default: '',
    env: 'FSB24_INSTANCE_ID',
  },
  logLevel: {
    doc: 'pino log level',
    format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    env: 'FSB24_LOG_LEVEL',
  },
};
