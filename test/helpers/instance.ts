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
  /** kill -9: resolves once the process is gone. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const child = fork(fileURLToPath(new URL('./instance-child.ts', import.meta.url)), [], {
    env: { ...process.env, FSB24_INSTANCE_ID: name, FSB24_HTTP_PORT: '0', FSB24_LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  const [first] = (await Promise.race([once(child, 'message'), exited.then(() => [null])])) as [{ url: string } | null];
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
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ cmd: 'stop' });
      await exited;
    },
  };
  return inst;
}
