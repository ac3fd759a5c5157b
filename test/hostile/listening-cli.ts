import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A `metachat listen` child process whose output the test can watch, then stop. */
export interface ListeningCli {
  stdout(): string;
  stderr(): string;
  /** Waits until stdout matches, or fails after `ms`. */
  waitForStdout(pattern: RegExp, ms?: number): Promise<void>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Sends SIGINT (`times` of them, 50 ms apart) and resolves with the exit code. */
  interrupt(times?: number): Promise<number | null>;
  /** The child's process id (to read its memory from /proc). */
  readonly pid: number | undefined;
  /** Waits until stderr matches, or fails after `ms`. */
  waitForStderr(pattern: RegExp, ms?: number): Promise<void>;
}

/** Starts `metachat listen --json` as a real child process, the password in the environment. */
export function startListening(home: string, server: string, password: string): ListeningCli {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/entry.ts'),
      'listen',
      '--json',
      '--home',
      home,
      '--server',
      server,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, METACHAT_PASSWORD: password },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  // Killed by a signal (a second Ctrl+C that lands while Node is already tearing down) reads as the
  // shell reports it: 128 + the signal's number.
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      resolve(code ?? (signal === null ? null : 128 + constants.signals[signal]));
    }),
  );
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return {
    stdout: () => out,
    stderr: () => err,
    async waitForStdout(pattern, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (!pattern.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(
            `listen did not print ${String(pattern)}; stdout: ${out}; stderr: ${err}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
    async interrupt(times = 1) {
      for (let i = 0; i < times; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
        child.kill('SIGINT');
      }
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
    pid: child.pid,
    async waitForStderr(pattern, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (!pattern.test(err)) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`listen did not say ${String(pattern)}; stdout: ${out}; stderr: ${err}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}
