/** What the call model asks the outside world to do: plain values, no I/O. */
export type CallType = 1 | 2 | 4;

export interface RegisterEffect {
  kind: 'register';
  call: string;
  /** EXTERNAL_CALL_ID: the FreeSWITCH call UUID, always (design.md lessons). */
  externalCallId: string;
  type: CallType;
  /** The employee's extension; null = nobody known yet (the executor uses the default user). */
  extension: string | null;
  phone: string;
  line: string | null;
  startIso: string;
  show: boolean;
  crmCreate: boolean;
  crmEntityType?: string;
  crmEntityId?: number;
  /** The switch the call is on (its FSB24_SWITCHES name): after a restart, only that switch can say it ended. */
  switch?: string;
}

/** A call Bitrix24 registered itself (click-to-call): its CALL_ID is known. */
export interface AdoptEffect {
  kind: 'adopt';
  call: string;
  b24CallId: string;
}

export interface CardEffect {
  kind: 'show' | 'hide';
  call: string;
  extensions: string[];
}

export interface FinishEffect {
  kind: 'finish';
  call: string;
  direction: 'incoming' | 'outgoing' | 'callback' | 'internal';
  /** Who talked last (or dialled); null when nobody answered. */
  extension: string | null;
  /** Unanswered: the ringing employees in order, the first that maps owns the call. */
  candidates: string[];
  duration: number;
  status: string;
  addToChat: boolean;
  /** FAILED_REASON, when the service knows better than a code. */
  reason?: string;
  /** The Bitrix24 user who owns it when no extension says (a refused click-to-call: who clicked). */
  userId?: number;
}

export interface AttachEffect {
  kind: 'attach';
  call: string;
  path: string;
}

/**
 * The client is talking to this employee since `atUs` (a bridge, or a transfer's new
 * bridge). Kept locally, so a call whose end the service missed while it was down can
 * still be finished as answered.
 */
export interface ConnectedEffect {
  kind: 'connected';
  call: string;
  extension: string | null;
  atUs: number;
  /** The switch the call is on (see RegisterEffect.switch). */
  switch?: string;
}

/**
 * A recorder opened this file for the call (RECORD_START). Kept locally, so the file is attached
 * even when its RECORD_STOP, or the call's end, was missed (a restart, an event-socket gap).
 */
export interface RecordingEffect {
  kind: 'recording';
  call: string;
  path: string;
}

export type Effect =
  RegisterEffect | AdoptEffect | CardEffect | FinishEffect | AttachEffect | ConnectedEffect | RecordingEffect;
