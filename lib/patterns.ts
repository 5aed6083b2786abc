/**
 * The shapes of values checked at more than one edge, in one place (issue 10): the
 * originate whitelist, the event parser, the routing lookup and the simulator agree.
 */

/** A FreeSWITCH UUID as we make them and as the switch writes them, lowercase (lower-case others first). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A phone number: 3 to 16 digits with an optional leading +, nothing else (no spaces either). */
export const PHONE = /^\+?[0-9]{3,16}$/;

/** An extension: 2 to 8 digits. */
export const EXTENSION = /^[0-9]{2,8}$/;
