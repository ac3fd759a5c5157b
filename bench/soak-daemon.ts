import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** A free TCP port on 127.0.0.1, so every lifetime of the daemon listens on the same address. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A /proc/<pid>/status field in kilobytes (VmRSS, VmHWM); 0 once the process is gone. */
function statusKb(pid: number | undefined, field: string): number {
  if (pid === undefined) return 0;
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match?.[1] ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) a process has used, in ms; 0 once it is gone. */
function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/**
 * Node flags for the daemon from METACHAT_SOAK_NODE_FLAGS (e.g. `--trace-gc`, `--heapsnapshot-signal=SIGUSR2`),
 * its standard output appended to the file METACHAT_SOAK_DAEMON_STDOUT names: to trace its memory.
 */
function nodeFlags(): string[] {
  return (process.env['METACHAT_SOAK_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
}

/**
 * The built metachat-daemon as a child process on a fixed loopback port: started, killed with
 * SIGKILL, restarted on the same store (`--data <dir>` or `--store <postgres URL>`), and watched for its peak resident memory
 * (VmHWM) across every lifetime.
 */
export class SoakDaemon {
  private child: ChildProcess | undefined;
  private stderrTail = '';
  private readonly watch: NodeJS.Timeout;
  /** Peak resident memory of each lifetime so far, in kB. */
  readonly peaksKb: number[] = [];
  /** CPU of the lifetimes that ended, in ms. */
  private pastCpuMs = 0;
  /** Log lines at level error (50) or above, over every lifetime. */
  errorLines = 0;
  private listening = false;

  constructor(
    readonly port: number,
    private readonly storeArgs: readonly string[],
    private readonly args: readonly string[],
  ) {
    this.watch = setInterval(() => {
      this.sample();
    }, 250);
  }

  /** Whether a lifetime listens now: from its 'listening' line until it is killed or stopped. */
  get up(): boolean {
    return this.listening && this.child?.exitCode === null && this.child.signalCode === null;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The daemon's resident memory now, in kB. */
  rssKb(): number {
    return statusKb(this.child?.pid, 'VmRSS');
  }

  /** CPU time over every lifetime so far, in ms. */
  cpuMs(): number {
    return this.pastCpuMs + cpuMsOf(this.child?.pid);
  }

  /** Highest VmHWM over every lifetime, in kB. */
  peakKb(): number {
    this.sample();
    return Math.max(0, ...this.peaksKb);
  }

  private sample(): void {
    if (this.child === undefined || this.child.exitCode !== null) return;
    const hwm = statusKb(this.child.pid, 'VmHWM');
    const last = this.peaksKb.length - 1;
    this.peaksKb[last] = Math.max(this.peaksKb[last] ?? 0, hwm);
  }

  /** Starts a lifetime and resolves once it listens; milliseconds it took. */
  async start(): Promise<number> {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [
        ...nodeFlags(),
        join(ROOT, 'dist/daemon/main.js'),
        '--host',
        '127.0.0.1',
        '--port',
        String(this.port),
        ...this.storeArgs,
        '--log-level',
        'warn',
        ...this.args,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    this.peaksKb.push(0);
    const trace = process.env['METACHAT_SOAK_DAEMON_STDOUT'];
    if (trace) child.stdout.on('data', (chunk: Buffer) => appendFileSync(trace, chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      const text = this.stderrTail + chunk.toString();
      const lines = text.split('\n');
      this.stderrTail = lines.pop() ?? '';
      for (const line of lines) {
        const level = /"level":(\d+)/.exec(line)?.[1];
        if (level !== undefined && Number(level) >= 50) {
          this.errorLines++;
          process.stderr.write(`daemon: ${line}\n`);
        }
      }
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('listening on')) resolve();
      });
      child.once('exit', (code) => {
        reject(new Error(`the daemon exited with ${String(code)} before listening`));
      });
    });
    this.listening = true;
    this.sample();
    return performance.now() - started;
  }

  /** SIGKILL (no chance to flush or say goodbye), then wait until the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.listening = false;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.sample();
    const cpu = cpuMsOf(child.pid);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    this.pastCpuMs += cpu;
  }

  /** SIGTERM and the exit code: 0 means every pending write finished. */
  async stop(): Promise<number | null> {
    clearInterval(this.watch);
    this.listening = false;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? 0;
    this.sample();
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    return exited;
  }
}
