/**
 * What the benchmarks share: their command-line options, and the environment the service's
 * child process (bench/service-child.ts) is configured by, as an operator configures it.
 */
import { join } from 'node:path';

const argv = process.argv.slice(2);

/** `--name value` from the command line, else `def`. */
export const opt = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
};

export const flag = (name: string): boolean => argv.includes(`--${name}`);

/** The service against the simulator and the emulator: data and recordings under `dir`, the bucket given. */
export function serviceEnv(
  dir: string,
  esl: { host: string; port: number },
  portal: { url: string; clientId: string; clientSecret: string },
  bucket: readonly [number, number],
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    FSB24_ESL_HOST: esl.host,
    FSB24_ESL_PORT: String(esl.port),
    FSB24_HTTP_PORT: '0',
    FSB24_DATA_DIR: join(dir, 'data'),
    FSB24_B24_PORTAL_URL: portal.url,
    FSB24_B24_CLIENT_ID: portal.clientId,
    FSB24_B24_CLIENT_SECRET: portal.clientSecret,
    FSB24_B24_OAUTH_URL: portal.url,
    FSB24_RECORDINGS_DIRS: join(dir, 'rec'),
    FSB24_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
    FSB24_B24_RATE_BURST: String(bucket[0]),
    FSB24_B24_RATE_DRAIN: String(bucket[1]),
    FSB24_RECORDINGS_STABLE_MS: '0',
  };
}
