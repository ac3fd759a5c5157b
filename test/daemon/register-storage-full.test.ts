import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareRegistration } from '../../src/cli/relay/account.js';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import type { RegisterRequest } from '../../src/core/index.js';
import { fillDisk } from '../support/fill-disk.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { startTestRelay, tempDir } from '../support/relay-harness.js';
import { refusalCode as codeOf } from '../support/refusal-code.js';

/**
 * Registration below the free-space floor, and on a disk that is entirely full, is refused with
 * STORAGE_FULL (never INTERNAL), writes nothing, and the relay stays up.
 */
const dirs: string[] = [];
let mounted: string | undefined;
let template: RegisterRequest;

beforeAll(async () => {
  // One key pair and one PBKDF2 run serve every registration (the relay cannot tell an identifier
  // from a username's hash, so each test gives the request an identifier of its own).
  template = (await prepareRegistration('newcomer', 'correct horse battery')).request;
});

afterAll(async () => {
  await killAllDaemons();
  if (mounted) spawnSync('umount', [mounted]);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function request(digit: string): RegisterRequest {
  return { ...template, identifier: digit.repeat(64) };
}

describe('registration when the disk is short of space', () => {
  it('is refused with STORAGE_FULL below the free-space floor, writes nothing, and works again above it', async () => {
    // A floor of 1 PiB: no disk of this machine has that much free.
    const server = await startTestRelay({ storage: { minFreeBytes: 2 ** 50 } });
    const client = await RelayClient.connect(server.url);
    expect(await codeOf(() => client.register(request('a')))).toBe('STORAGE_FULL');
    const refused = (await client.raw('register', request('b'))) as {
      error: { code: string; message: string };
    };
    expect(refused.error.code).toBe('STORAGE_FULL');
    expect(refused.error.message).toMatch(/out of disk space.*operator/);
    // Nothing was stored, the relay answers, and the identifier is still free.
    expect(await readdir(join(server.dataDir, 'keys'))).toEqual([]);
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as { users: number };
    expect(health.users).toBe(0);
    expect(await client.raw('challenge')).toMatchObject({ ok: true });
    client.close();
    await server.stop(true);

    const roomy = await startTestRelay({ dataDir: server.dataDir, storage: { minFreeBytes: 0 } });
    const again = await RelayClient.connect(roomy.url);
    expect(await codeOf(() => again.register(request('a')))).toBe('ok');
    expect(await codeOf(() => again.register(request('a')))).toBe('ALREADY_REGISTERED');
    again.close();
    await roomy.stop();
  }, 60_000);

  it('is refused with STORAGE_FULL when the disk itself refuses the write, and the relay stays up', async () => {
    // As root: a 2 MB tmpfs of the test's own, filled to the last byte. Otherwise (or with
    // METACHAT_TEST_NO_TMPFS=1) the daemon runs under a 1 KB file-size limit (the key file is
    // about 2.5 KB), so its write fails the way a full disk does (EFBIG instead of ENOSPC).
    const dir = await tempDir('metachat-register-disk-');
    dirs.push(dir);
    let tmpfs = false;
    if (process.getuid?.() === 0 && process.env['METACHAT_TEST_NO_TMPFS'] !== '1') {
      const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', dir]);
      if (mount.status === 0) {
        mounted = dir;
        tmpfs = true;
      }
    }
    const dataDir = join(dir, 'data');
    // The first start creates the data directory; the second one finds it and writes nothing.
    let daemon: DaemonProcess = await spawnDaemon(dataDir, ['--min-free-bytes', '0']);
    // SIGTERM the moment it says it listens: a clean stop all the same.
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    if (tmpfs) await fillDisk(join(dir, 'filler'));
    daemon = await spawnDaemon(
      dataDir,
      ['--min-free-bytes', '0'],
      tmpfs ? {} : { fileSizeLimitKb: 1 },
    );
    const client = await RelayClient.connect(daemon.url);
    expect(await codeOf(() => client.register(request('c')))).toBe('STORAGE_FULL');
    expect(await codeOf(() => client.register(request('d')))).toBe('STORAGE_FULL');
    expect(await client.raw('challenge')).toMatchObject({ ok: true });
    expect((await fetch(`${daemon.url}/healthz`)).status).toBe(200);
    client.close();
    // Neither the key file nor its temp file was left behind.
    expect(await readdir(join(dataDir, 'keys'))).toEqual([]);
    expect(daemon.stderr()).not.toContain('handler failed');
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 90_000);
});
