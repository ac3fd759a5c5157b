import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One JSON-RPC message the process wrote: a response (with an id) or a notification. */
export interface RpcMessage {
  readonly jsonrpc: '2.0';
  readonly id?: string | number | null;
  readonly method?: string;
  readonly params?: Record<string, unknown>;
  readonly result?: Record<string, unknown>;
  readonly error?: { code: number; message: string; data: { code: string } };
}

/** A running `metachat jsonrpc` child process, spoken to over its standard input/output. */
export interface RpcProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything it wrote on stdout, parsed, in order. */
  readonly messages: RpcMessage[];
  readonly stderr: () => string;
  /** Sends a request and resolves with its response (result or error). */
  request(method: string, params?: unknown, ms?: number): Promise<RpcMessage>;
  /** Writes raw bytes to its standard input. */
  write(data: string | Buffer): void;
  /** Waits for a message that matches, or fails after `ms` with what it wrote. */
  waitFor(match: (message: RpcMessage) => boolean, ms?: number): Promise<RpcMessage>;
  /** Resolves with the exit code once it ends. */
  readonly exited: Promise<number | null>;
  /** Peak and current resident memory of the process, in KiB (from /proc). */
  memory(): Promise<{ peakKb: number; rssKb: number }>;
}

let nextId = 1;

/**
 * Starts `metachat jsonrpc --password-stdin` from source as a real child process against `server`,
 * with the password as the first line of its standard input.
 */
export function startRpc(
  home: string,
  server: string,
  password: string,
  extra: string[] = [],
): RpcProcess {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/entry.ts'),
      'jsonrpc',
      '--password-stdin',
      '--home',
      home,
      '--server',
      server,
      ...extra,
    ],
    { cwd: ROOT, env: { ...process.env, METACHAT_PASSWORD: '' }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const messages: RpcMessage[] = [];
  let partial = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.length > 0) messages.push(JSON.parse(line) as RpcMessage);
    for (const wake of waiters) wake();
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stdin.on('error', () => undefined);
  child.stdin.write(`${password}\n`);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  void exited.then(() => clearTimeout(killer));
  const waitFor = async (match: (message: RpcMessage) => boolean, ms = 15_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = messages.find(match);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0 || child.exitCode !== null)
        throw new Error(
          `jsonrpc did not write the message awaited; stdout: ${JSON.stringify(messages).slice(0, 4000)}; stderr: ${err}`,
        );
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 200));
        waiters.add(wake);
      });
    }
  };
  return {
    child,
    messages,
    stderr: () => err,
    write: (data) => child.stdin.write(data),
    waitFor,
    exited,
    async request(method, params, ms) {
      const id = `r${String(nextId++)}`;
      child.stdin.write(
        `${JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) })}\n`,
      );
      return waitFor((message) => message.id === id && message.method === undefined, ms);
    },
    async memory() {
      const status = await readFile(`/proc/${String(child.pid)}/status`, 'utf8');
      const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1]);
      return { peakKb: field('VmHWM'), rssKb: field('VmRSS') };
    },
  };
}
