/** Placeholder replaced below. */
export async function runCheck(_o: unknown, out: (l: string) => void): Promise<number> {
  out('check: not implemented yet');
  return 1;
}
