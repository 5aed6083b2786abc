/**
 * Bitrix24 STATUS_CODE for a call that did not connect (bitrix24-telephony.md §5.1;
 * freeswitch-esl.md §3.5 and §5). The SIP status the far end sent wins over the
 * hangup cause because the cause mapping is lossy (480 in → NO_USER_RESPONSE).
 */
export type StatusCode =
  '200' | '304' | '402' | '403' | '404' | '423' | '480' | '484' | '486' | '503' | '603' | '603-S' | 'OTHER';

const BY_SIP: Record<string, StatusCode> = {
  '402': '402',
  '403': '403',
  '404': '404',
  '410': '404',
  '480': '480',
  '408': '480',
  '484': '484',
  '486': '486',
  '600': '486',
  '603': '603',
  '607': '603',
  '608': '603',
  '500': '503',
  '502': '503',
  '503': '503',
  '504': '503',
  '423': '423',
};

const BY_CAUSE: Record<string, StatusCode> = {
  USER_BUSY: '486',
  BUSY_EVERYWHERE: '486',
  CALL_REJECTED: '603',
  DECLINE: '603',
  REJECT_ALL: '603',
  UNWANTED: '603',
  UNALLOCATED_NUMBER: '404',
  NO_ROUTE_DESTINATION: '404',
  NO_ROUTE_TRANSIT_NET: '404',
  DOES_NOT_EXIST_ANYWHERE: '404',
  NUMBER_CHANGED: '404',
  INVALID_NUMBER_FORMAT: '484',
  INVALID_GATEWAY: '503',
  INVALID_URL: '484',
  NO_ANSWER: '480',
  NO_USER_RESPONSE: '480',
  SUBSCRIBER_ABSENT: '480',
  USER_NOT_REGISTERED: '480',
  RECOVERY_ON_TIMER_EXPIRE: '480',
  PROGRESS_TIMEOUT: '480',
  NORMAL_TEMPORARY_FAILURE: '503',
  NORMAL_CIRCUIT_CONGESTION: '503',
  SWITCH_CONGESTION: '503',
  NETWORK_OUT_OF_ORDER: '503',
  DESTINATION_OUT_OF_ORDER: '503',
  REQUESTED_CHAN_UNAVAIL: '503',
  GATEWAY_DOWN: '503',
  SERVICE_UNAVAILABLE: '503',
  OUTGOING_CALL_BARRED: '403',
  INCOMING_CALL_BARRED: '403',
  BEARERCAPABILITY_NOTAUTH: '403',
  FACILITY_NOT_SUBSCRIBED: '402',
  ORIGINATOR_CANCEL: '603-S',
};

/** A status for an unconnected outgoing call from the deciding leg's SIP status and cause. */
export function outgoingStatus(sipTermStatus: string | undefined, cause: string | undefined): StatusCode {
  if (sipTermStatus === '487') return '603-S';
  const n = Number(sipTermStatus);
  if (sipTermStatus && n >= 400) return BY_SIP[sipTermStatus] ?? 'OTHER';
  return (cause && BY_CAUSE[cause]) || 'OTHER';
}

/**
 * An incoming call nobody answered: missed (304) when the caller gave up or the
 * phones rang out; busy or rejected when every phone refused.
 */
export function incomingStatus(employeeCauses: readonly string[]): StatusCode {
  if (employeeCauses.length > 0 && employeeCauses.every((c) => c === 'USER_BUSY')) return '486';
  if (employeeCauses.length > 0 && employeeCauses.every((c) => c === 'CALL_REJECTED')) return '603';
  return '304';
}
