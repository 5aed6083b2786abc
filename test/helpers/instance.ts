/**
 * Instances of the service in child processes (test/helpers/instance-child.ts), configured by
 * environment variables as an operator would: a test can ask one for its /healthz body, stop
 * it, or kill -9 it (no cleanup at all: its sockets and database connections just drop).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export interface Instance {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  health(): Promise<{ ok: boolean; body: Record<string, unknown> }>;
  /** The leases it holds, as it last said. */
  readonly holds: readonly string[];
  /** Resolves once what it holds satisfies `cond` (told by the instance at each change). */
  until(cond: (holds: readonly string[]) => boolean, timeoutMs?: number): Promise<void>;
  /** kill -9: resolves once the process is gone. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const child = fork(fileURLToPath(new URL('./instance-child.ts', import.meta.url)), [], {
    env: {
      ...process.env,
      FSB24_INSTANCE_ID: name,
      FSB24_HTTP_PORT: '0',
      FSB24_LOG_LEVEL: process.env.FSB24_TEST_INSTANCE_LOG ?? 'silent',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  let holds: readonly string[] = [];
  const watchers = new Set<() => void>();
  const ready = new Promise<{ url: string } | null>((resolve) => {
    child.on('message', (m: { holds?: string[]; ready?: boolean; url?: string }) => {
      if (m.holds) {
        holds = m.holds;
        for (const w of [...watchers]) w();
      }
      if (m.ready && m.url) resolve({ url: m.url });
    });
    void exited.then(() => resolve(null));
  });
  const first = await ready;
  if (!first) throw new Error(`instance ${name} exited before it was ready`);
  let seq = 0;
  const inst: Instance = {
    name,
    url: first.url,
    child,
    health: () =>
      new Promise((resolve) => {
        const id = ++seq;
        const on = (m: { id?: number; health?: { ok: boolean; body: Record<string, unknown> } }): void => {
          if (m.id !== id || !m.health) return;
          child.off('message', on);
          resolve(m.health);
        };
        child.on('message', on);
        child.send({ cmd: 'health', id });
      }),
    get holds() {
      return holds;
    },
    until: (cond, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (!cond(holds)) return;
          clearTimeout(timer);
          watchers.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(new Error(`instance ${name}: holds ${JSON.stringify(holds)}, not what was awaited`));
        }, timeoutMs);
        watchers.add(check);
        check();
      }),
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ cmd: 'stop' }, (err) => err && child.kill('SIGKILL'));
      else child.kill('SIGKILL');
      await exited;
    },
  };
  return inst;
}
