/**
 * What the emulated portal knows: users, CRM objects, lines, calls, cards, files and
 * event handlers (reference §14). Tests seed it and read it back.
 */
export interface PortalUser {
  ID: number;
  NAME: string;
  LAST_NAME: string;
  ACTIVE: boolean;
  UF_PHONE_INNER: string;
  TIMEMAN_STATUS: 'OPENED' | 'CLOSED' | 'PAUSED' | 'EXPIRED' | 'UNAVAILABLE' | 'NOT_INSTALLED';
  IS_ADMIN?: boolean;
}

export interface CrmEntity {
  TYPE: 'CONTACT' | 'COMPANY' | 'LEAD';
  ID: number;
  NAME?: string;
  PHONES: string[];
  ASSIGNED_BY_ID: number;
}

export interface Line {
  appId: string;
  NUMBER: string;
  NAME: string;
  CRM_AUTO_CREATE: 'Y' | 'N';
}

export interface ActiveCall {
  CALL_ID: string;
  appId: string;
  USER_ID: number;
  PHONE_NUMBER: string;
  TYPE: number;
  LINE_NUMBER: string | null;
  EXTERNAL_CALL_ID: string | null;
  CALL_START_DATE: string;
  createdAt: number;
  CRM_ENTITY_TYPE: string | null;
  CRM_ENTITY_ID: number | null;
  CRM_CREATED_LEAD: number | null;
  internal: boolean;
  registeredBy: 'rest' | 'click2call';
}

export interface FinishedCall {
  ID: number;
  CALL_ID: string;
  EXTERNAL_CALL_ID: string | null;
  PORTAL_USER_ID: number;
  PHONE_NUMBER: string;
  PORTAL_NUMBER: string;
  INCOMING: string;
  CALL_DURATION: number;
  CALL_START_DATE: string;
  CALL_STATUS: number;
  CALL_VOTE: number;
  COST: number;
  COST_CURRENCY: string;
  CALL_FAILED_CODE: string;
  CALL_FAILED_REASON: string;
  REST_APP_ID: string;
  CRM_ACTIVITY_ID: number | null;
  CRM_ENTITY_TYPE?: string;
  CRM_ENTITY_ID?: number;
  /** Not part of the REST reply: kept so tests can check it. */
  addToChat: boolean;
  registeredType: number;
  lineNumber: string | null;
}

export interface AttachedFile {
  CALL_ID: string;
  FILE_ID: number;
  name: string;
  bytes: Buffer;
  via: 'content' | 'upload' | 'url';
}

export interface Handler {
  appId: string;
  event: string;
  handler: string;
  auth_type: string;
  offline: number;
}

export class PortalState {
  readonly users = new Map<number, PortalUser>();
  readonly crm: CrmEntity[] = [];
  readonly lines: Line[] = [];
  readonly active = new Map<string, ActiveCall>();
  readonly finished: FinishedCall[] = [];
  /** CALL_IDs of `finished`, and CRM entities by the digits of each phone: one look-up, not a scan per call. */
  private readonly finishedIds = new Set<string>();
  private readonly crmByDigits = new Map<string, CrmEntity[]>();
  /** CALL_ID -> users the card is shown to. */
  readonly cards = new Map<string, Set<number>>();
  /** CALL_ID -> every user the card was ever shown to (the demo's table). */
  readonly everShown = new Map<string, Set<number>>();
  readonly files: AttachedFile[] = [];
  readonly handlers: Handler[] = [];
  private ids = { call: 0, stat: 0, file: 9000, lead: 5000, activity: 7000 };

  addUser(u: Partial<PortalUser> & { ID: number }): PortalUser {
    const user: PortalUser = {
      NAME: `User${u.ID}`,
      LAST_NAME: '',
      ACTIVE: true,
      UF_PHONE_INNER: '',
      TIMEMAN_STATUS: 'OPENED',
      ...u,
    };
    this.users.set(user.ID, user);
    return user;
  }

  addCrm(e: CrmEntity): void {
    this.crm.push(e);
    for (const digits of new Set(e.PHONES.map((p) => p.replace(/\D/g, '')))) {
      if (digits === '') continue;
      const list = this.crmByDigits.get(digits);
      if (list) list.push(e);
      else this.crmByDigits.set(digits, [e]);
    }
  }

  addFinished(row: FinishedCall): void {
    this.finished.push(row);
    this.finishedIds.add(row.CALL_ID);
  }

  isFinished(callId: string): boolean {
    return this.finishedIds.has(callId);
  }

  next(kind: keyof PortalState['ids']): number {
    return ++this.ids[kind];
  }

  /** The card visibility tests assert on: users currently shown the card of a call. */
  cardUsers(callId: string): number[] {
    return [...(this.cards.get(callId) ?? [])].sort((a, b) => a - b);
  }

  findCrmByPhone(phone: string): CrmEntity[] {
    const digits = phone.replace(/\D/g, '');
    const hits = [...(this.crmByDigits.get(digits) ?? [])];
    const order = { CONTACT: 0, LEAD: 1, COMPANY: 2 };
    return hits.sort((a, b) => order[a.TYPE] - order[b.TYPE]);
  }
}

/** One request the portal received, as the journal keeps it. */
export interface PortalRequest {
  method: string;
  params: Record<string, unknown>;
  auth: 'oauth' | 'webhook' | 'none';
  status: number;
  error?: string;
  result?: unknown;
  at: number;
  /** Set for sub-calls of a batch. */
  batch?: boolean;
  /** The client's User-Agent (which instance of a cluster sent it). */
  agent?: string;
}
