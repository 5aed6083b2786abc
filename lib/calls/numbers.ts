/**
 * Phone number normalisation by configurable rules: formatting is stripped, then the
 * first matching rewrite applies (e.g. `^8(\d{10})$` → `+7$1`).
 */
export interface NumberRule {
  match: string;
  replace: string;
}

export function compileRules(rules: readonly NumberRule[]): Array<[RegExp, string]> {
  return rules.map((r) => [new RegExp(r.match), r.replace]);
}

export function normalizeNumber(raw: string, rules: ReadonlyArray<[RegExp, string]>): string {
  const plus = raw.trim().startsWith('+');
  const digits = raw.replace(/\D/g, '');
  if (digits === '') return '';
  let n = (plus ? '+' : '') + digits;
  for (const [re, rep] of rules) {
    if (re.test(n)) {
      n = n.replace(re, rep);
      break;
    }
  }
  return n;
}
