import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { bytesToBase64, bytesToHex, systemRandom } from '../../src/core/index.js';
import { RefusalLog } from '../../src/daemon/refusal-log.js';
import { idleConnection } from '../support/paused-readers.js';
import { capturingLogger, newUser, startTestRelay } from '../support/relay-harness.js';
import { refusalCode as codeOf } from '../support/refusal-code.js';

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

const FLOOD = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'refusal-flood.ts');

describe('the refusal log', () => {
  it('logs the first refusal of each kind at once and sums up the rest in one line per interval', async () => {
    const { logger, lines } = capturingLogger();
    const log = new RefusalLog(logger, 200);
    for (let i = 0; i < 1000; i++) log.note('login-failed', 'LOGIN_FAILED');
    for (let i = 0; i < 3; i++) log.note('connection-refused', 'TOO_MANY_CONNECTIONS', 'warn');
    expect(lines()).toEqual([
      expect.objectContaining({ event: 'login-failed', code: 'LOGIN_FAILED', level: 30 }),
      expect.objectContaining({
        event: 'connection-refused',
        code: 'TOO_MANY_CONNECTIONS',
        level: 40,
      }),
    ]);
    // The interval's summary comes by itself (bounded wait: 10 s for a 200 ms timer).
    const deadline = Date.now() + 10_000;
    while (lines().length < 3 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(lines()[2]).toEqual(
      expect.objectContaining({
        event: 'refusals',
        repeated: {
          'login-failed:LOGIN_FAILED': 999,
          'connection-refused:TOO_MANY_CONNECTIONS': 2,
        },
      }),
    );
    // A new interval: the first of a kind is logged at once again; close() sums up what is left.
    log.note('login-failed', 'LOGIN_FAILED');
    log.note('login-failed', 'LOGIN_FAILED');
    log.close();
    expect(lines().slice(3)).toEqual([
      expect.objectContaining({ event: 'login-failed', code: 'LOGIN_FAILED' }),
      expect.objectContaining({ event: 'refusals', repeated: { 'login-failed:LOGIN_FAILED': 1 } }),
    ]);
    // Nothing repeated: no summary line.
    const quiet = capturingLogger();
    const once = new RefusalLog(quiet.logger, 60_000);
    once.note('login-failed', 'LOGIN_FAILED');
    once.close();
    expect(quiet.lines()).toHaveLength(1);
  });

  it('keeps identifiers, usernames, proofs and addresses out of every line the relay logs for refusals', async () => {
    const { logger, lines } = capturingLogger();
    const server = await startTestRelay({
      logger,
      limits: { maxConnectionsPerAddress: 8, loginFailuresPerConnection: 1e6 },
    });
    const victim = await newUser(server.url, 'victimname');
    cleanup.push(() => victim.client.close());
    const secrets: string[] = [victim.identifier, 'victimname', victim.password];
    const attacker = await RelayClient.connect(server.url);
    const codes = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const proof = bytesToBase64(systemRandom(32));
      const identifier = i % 2 === 0 ? victim.identifier : bytesToHex(systemRandom(32));
      secrets.push(proof, identifier);
      codes.add(await codeOf(() => attacker.login(identifier, proof)));
    }
    expect([...codes].sort()).toEqual(['LOGIN_FAILED', 'RATE_LIMITED']);
    // Connections past the per-address cap, refused at the handshake.
    const open = await Promise.allSettled(
      Array.from({ length: 12 }, () => idleConnection(server.url)),
    );
    for (const result of open) if (result.status === 'fulfilled') result.value.destroy();
    expect(open.filter((result) => result.status === 'rejected').length).toBeGreaterThan(0);
    attacker.close();
    await server.stop();
    const logged = lines();
    const text = JSON.stringify(logged);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/127\.0\.0|::ffff|[0-9a-f]{64}/);
    // Over 60 refused logins and the refused connections: a handful of lines, codes only.
    const refusals = logged.filter((line) =>
      ['login-refused', 'login-failed', 'connection-refused', 'refusals'].includes(
        String(line['event']),
      ),
    );
    expect(refusals.length).toBeGreaterThanOrEqual(3);
    expect(refusals.length).toBeLessThanOrEqual(5);
    for (const line of refusals) {
      // pino's own fields (the capturing logger adds pid and hostname), then the refusal's.
      const { event, code, repeated, level, time, msg, pid: _pid, hostname: _host, ...rest } = line;
      expect({ event, level, time, msg, rest }).toEqual({
        event: expect.any(String),
        level: expect.any(Number),
        time: expect.any(Number),
        msg: expect.any(String),
        rest: {},
      });
      expect(code === undefined || (typeof code === 'string' && /^[A-Z_]+$/.test(code))).toBe(true);
      for (const key of Object.keys(repeated ?? {})) expect(key).toMatch(/^[a-z-]+:[A-Z_]+$/);
    }
  }, 60_000);

  it('writes asynchronously: a stderr nobody reads does not stop the relay logging or working', async () => {
    // 20,000 lines of about 110 bytes: 2 MB, thirty times what a pipe holds.
    const child = spawn(process.execPath, ['--import', 'tsx', FLOOD, '20000'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    cleanup.push(() => child.kill('SIGKILL'));
    child.stderr.pause();
    const done = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 60_000);
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('done')) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.once('exit', () => resolve(false));
    });
    expect(done).toBe(true);
    // Now read what it logged: every line arrives, in order, codes only.
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stderr.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.stdin.end();
    expect(await exited).toBe(0);
    const logged = stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged).toHaveLength(20_001);
    expect(logged[19_999]).toMatchObject({ event: 'flood-19999', code: 'LOGIN_FAILED' });
    expect(logged[20_000]).toMatchObject({ event: 'refusals' });
    expect(Object.keys(logged[20_000]?.['repeated'] as object)).toHaveLength(20_000);
  }, 90_000);
});
