import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BEHAVIOURS, runConformance } from '../../scripts/conformance.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { startTestRelay, tempDir } from '../support/relay-harness.js';
import { startHostileRelay } from '../hostile/hostile-relay.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let daemon: DaemonProcess;
let dataDir: string;

beforeAll(async () => {
  dataDir = await tempDir('metachat-conformance-');
  daemon = await spawnDaemon(dataDir);
});

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
});

/** Runs `npm run conformance`'s script as a child process; resolves with its exit code and output. */
function conformanceCli(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'scripts/conformance.ts'), ...args],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

describe('the relay conformance list (docs/protocol.md section 15)', () => {
  it('passes every behaviour against the daemon, run as a child process', async () => {
    const outcomes = await runConformance(daemon.url);
    expect(outcomes.filter((o) => !o.passed)).toEqual([]);
    expect(outcomes.map((o) => o.id)).toEqual(BEHAVIOURS.map((b) => b.id));
  }, 180_000);

  it('runs as `npm run conformance -- <url>`: pass lines and exit 0, or FAIL lines and exit 1', async () => {
    const good = await conformanceCli([daemon.url, '--only', 'unknown-event,key-lookup']);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/^pass {2}unknown-event /m);
    expect(good.stdout).toMatch(/^pass {2}key-lookup /m);
    expect(good.stdout).toContain('2 of 2 behaviours pass');
    // Nothing listens on port 1: setting up fails, and so does every behaviour.
    const none = await conformanceCli(['http://127.0.0.1:1', '--only', 'unknown-event']);
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/^FAIL {2}unknown-event /m);
    expect((await conformanceCli(['not a url'])).code).toBe(2);
  }, 120_000);

  it('catches a relay whose limits differ from the spec, and passes the rest', async () => {
    const lax = await startTestRelay({
      limits: { authFailuresPerConnection: 4, maxSocketsPerIdentifier: 4 },
    });
    try {
      const outcomes = await runConformance(lax.url, {
        only: ['auth-failures-close', 'too-many-sockets', 'auth-failures-counted'],
      });
      expect(Object.fromEntries(outcomes.map((o) => [o.id, o.passed]))).toEqual({
        'auth-failures-counted': true,
        'auth-failures-close': false,
        'too-many-sockets': false,
      });
      expect(outcomes.find((o) => o.id === 'too-many-sockets')?.detail).toContain(
        'TOO_MANY_SOCKETS',
      );
    } finally {
      await lax.stop();
    }
  }, 120_000);

  it('catches a relay that does not serve the tombstone of a deleted account', async () => {
    const hiding = await startHostileRelay(daemon.url);
    hiding.behave({
      answer: (event) =>
        event === 'deletion'
          ? { ok: false, error: { code: 'UNKNOWN_IDENTIFIER', message: 'hidden' } }
          : undefined,
    });
    try {
      const [outcome] = await runConformance(hiding.url, { only: ['delete-account'] });
      expect(outcome?.passed).toBe(false);
      expect(outcome?.detail).toContain('deletion: refused with UNKNOWN_IDENTIFIER');
    } finally {
      await hiding.close();
    }
  }, 60_000);

  it('is the list docs/protocol.md section 15 documents, behaviour by behaviour', async () => {
    const spec = await readFile(join(ROOT, 'docs/protocol.md'), 'utf8');
    const start = spec.indexOf('## 15. Relay conformance');
    const end = spec.indexOf('\n## ', start + 1);
    const section = spec.slice(start, end === -1 ? undefined : end);
    const documented = [...section.matchAll(/^\| `([a-z-]+)` +\|/gm)].map((m) => m[1]);
    expect(documented).toEqual(BEHAVIOURS.map((b) => b.id));
  });
});
