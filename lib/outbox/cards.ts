/**
 * Coalescing of pending show/hide for one call (issue 6): a show followed by a hide
 * of the same user cancels out, and what is left becomes one show and one hide with
 * USER_ID arrays.
 */
export interface CardOp {
  kind: 'show' | 'hide';
  users: number[];
}

export function coalesceCards(ops: readonly CardOp[]): { show: number[]; hide: number[] } {
  const first = new Map<number, 'show' | 'hide'>();
  const last = new Map<number, 'show' | 'hide'>();
  for (const op of ops) {
    for (const u of op.users) {
      if (!first.has(u)) first.set(u, op.kind);
      last.set(u, op.kind);
    }
  }
  const show: number[] = [];
  const hide: number[] = [];
  for (const [u, end] of last) {
    // a pending show later hidden never needs to go out; a hide of a card shown earlier does
    if (end === 'hide' && first.get(u) === 'show') continue;
    (end === 'show' ? show : hide).push(u);
  }
  return { show: show.sort((a, b) => a - b), hide: hide.sort((a, b) => a - b) };
}
