// `npm run bench -- client`: 1,000 sends to one peer through one `metachat jsonrpc` process,
// beside separate `metachat send` processes measured in the same run (the CLI as shipped, from
// dist/, against a metachat-daemon child process on a temp data directory).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printRatio } from './report.js';
import { historyBench } from './history-bench.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PASSWORD = 'correct horse battery staple';
const SENDS = 1_000;
/** Separate `send` processes measured; their time is scaled to SENDS. */
const SEPARATE = 20;
const TARGET_MS = 20_000;
/** No part of the run waits longer than this. */
const DEADLINE_MS = 300_000;

function cli(args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/metachat'), ...args], {
      env: { ...process.env, METACHAT_PASSWORD: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stdin.end(input);
    const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`metachat ${args[0] ?? ''} exited with ${String(code)}: ${out}`));
    });
  });
}

async function startDaemon(
  dataDir: string,
): Promise<{ url: string; child: ChildProcessWithoutNullStreams }> {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin/metachat-daemon'), '--port', '0', '--data', dataDir, '--log-level', 'silent'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no daemon: ${out}`)), 30_000);
    const seen = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      resolve(match[1]);
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.once('exit', (code) => reject(new Error(`daemon exited with ${String(code)}: ${out}`)));
  });
  return { url, child };
}

/** Spawns `metachat jsonrpc`, writes every send at once, and resolves once each has its answer. */
function jsonrpcSends(home: string, url: string, peer: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin/metachat'), 'jsonrpc', '--password-stdin', '--home', home, '--server', url],
      { env: { ...process.env, METACHAT_PASSWORD: '' }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let partial = '';
    let answered = 0;
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`only ${String(answered)} of ${String(SENDS)} sends answered in time: ${err}`),
      );
    }, DEADLINE_MS);
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const message = JSON.parse(line) as { id?: unknown; error?: { message: string } };
        if (message.id === undefined) continue;
        if (message.error !== undefined) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          reject(new Error(`send ${JSON.stringify(message.id)} failed: ${message.error.message}`));
          return;
        }
        answered++;
      }
      if (answered !== SENDS) return;
      const ms = performance.now() - started;
      clearTimeout(timer);
      child.stdin.end();
      child.once('exit', () => resolve(ms));
    });
    child.stdin.write(`${PASSWORD}\n`);
    for (let i = 0; i < SENDS; i++)
      child.stdin.write(
        `${JSON.stringify({ jsonrpc: '2.0', id: i, method: 'send', params: { peer, text: `message ${String(i)}` } })}\n`,
      );
  });
}

/** Runs the client benchmarks (the local history, then the sends) and prints each beside its baseline. */
export async function clientBench(): Promise<void> {
  await historyBench();
  console.log(`\nclient: ${String(SENDS)} sends to one peer`);
  const root = await mkdtemp(join(tmpdir(), 'metachat-client-bench-'));
  const daemon = await startDaemon(join(root, 'data'));
  try {
    const home = (name: string) => join(root, name);
    for (const name of ['alice', 'bob'])
      await cli(
        ['register', name, '--home', home(name), '--server', daemon.url, '--password-stdin'],
        `${PASSWORD}\n`,
      );
    const separateStart = performance.now();
    for (let i = 0; i < SEPARATE; i++)
      await cli(
        [
          'send',
          'bob',
          `separate ${String(i)}`,
          '--home',
          home('alice'),
          '--server',
          daemon.url,
          '--password-stdin',
        ],
        `${PASSWORD}\n`,
      );
    const separateMs = performance.now() - separateStart;
    const scaledMs = (separateMs * SENDS) / SEPARATE;
    const rpcMs = await jsonrpcSends(home('alice'), daemon.url, 'bob');
    console.log(
      `${`${String(SEPARATE)} separate metachat send processes`.padEnd(56)}${(separateMs / 1000).toFixed(1).padStart(7)} s (${(separateMs / SEPARATE).toFixed(0)} ms each; scaled to ${String(SENDS)}: ${(scaledMs / 1000).toFixed(1)} s)`,
    );
    console.log(
      `${`${String(SENDS)} sends through one metachat jsonrpc`.padEnd(56)}${(rpcMs / 1000).toFixed(1).padStart(7)} s (all acknowledged; ${(SENDS / (rpcMs / 1000)).toFixed(0)} sends/s)`,
    );
    printRatio(
      'separate processes (scaled) / jsonrpc',
      scaledMs / rpcMs,
      'jsonrpc < 20 s',
      rpcMs < TARGET_MS,
    );
  } finally {
    daemon.child.kill('SIGTERM');
    await new Promise((resolve) => daemon.child.once('exit', resolve));
    await rm(root, { recursive: true, force: true });
  }
}
