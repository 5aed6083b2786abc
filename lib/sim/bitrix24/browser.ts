/** The admin's browser, for tests and benchmarks: GET, follow 3xx, keep cookies by origin and path. */
import { request } from 'undici';

interface Cookie {
  name: string;
  value: string;
  origin: string;
  path: string;
}

export class Browser {
  readonly cookies: Cookie[] = [];
  /** Every URL visited, in order. */
  readonly visited: string[] = [];

  /** Follows up to `maxRedirects`; past that, answers the redirect with `url` = where it points. */
  async get(url: string, maxRedirects = 10): Promise<{ status: number; url: string; body: string }> {
    let at = new URL(url);
    for (let i = 0; ; i++) {
      this.visited.push(at.href);
      const cookie = this.cookies
        .filter((c) => c.origin === at.origin && at.pathname.startsWith(c.path))
        .map((c) => `${c.name}=${c.value}`)
        .join('; ');
      const res = await request(at, { method: 'GET', headers: cookie ? { cookie } : {} });
      const body = await res.body.text();
      const set = res.headers['set-cookie'];
      for (const line of Array.isArray(set) ? set : set ? [set] : []) this.keep(at, line);
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string') {
        if (i >= maxRedirects) return { status: res.statusCode, url: new URL(location, at).href, body };
        at = new URL(location, at);
        continue;
      }
      return { status: res.statusCode, url: at.href, body };
    }
  }

  private keep(at: URL, line: string): void {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const [name, ...v] = (pair ?? '').split('=');
    const path = attrs.find((a) => /^path=/i.test(a))?.slice(5) ?? '/';
    const i = this.cookies.findIndex((c) => c.name === name && c.origin === at.origin && c.path === path);
    if (i >= 0) this.cookies.splice(i, 1);
    this.cookies.push({ name: name ?? '', value: v.join('='), origin: at.origin, path });
  }
}
