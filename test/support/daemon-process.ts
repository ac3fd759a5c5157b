import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { storeArgs } from './test-store.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A metachat-daemon child process on a random loopback port. */
export interface DaemonProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stderr so far (its JSON logs). */
  readonly stderr: () => string;
  /** Resolves with the exit code and signal once it ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

/** Kills every daemon a test started and has not stopped: call from afterAll, so a failure leaks none. */
export async function killAllDaemons(): Promise<void> {
  const children = [...running];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
          }
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/**
 * Starts the daemon from source (through tsx) and waits for its "listening" line. With
 * `fileSizeLimitKb`, the child runs under that RLIMIT_FSIZE (`ulimit -f`): writes past it fail as
 * on a full disk.
 */
export async function spawnDaemon(
  dataDir: string,
  args: string[] = [],
  options: { fileSizeLimitKb?: number } = {},
): Promise<DaemonProcess> {
  const argv = [
    '--import',
    'tsx',
    join(ROOT, 'src/daemon/main.ts'),
    '--port',
    '0',
    '--data',
    dataDir,
    ...(await storeArgs(dataDir)),
    ...args,
  ];
  const limited = options.fileSizeLimitKb !== undefined;
  const child = spawn(
    limited ? 'bash' : process.execPath,
    limited
      ? [
          '-c',
          `ulimit -f ${String(options.fileSizeLimitKb)}; exec "$0" "$@"`,
          process.execPath,
          ...argv,
        ]
      : argv,
    {
      cwd: ROOT,
      env: { ...process.env, METACHAT_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`daemon did not start in time; stderr: ${stderr}`));
    }, 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${String(code)} before listening; stderr: ${stderr}`));
    });
  });
  return { url, child, stderr: () => stderr, exited };
}
