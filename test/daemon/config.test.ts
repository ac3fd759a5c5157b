import { afterAll, describe, expect, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { prepareRegistration } from '../../src/cli/relay/account.js';
import { RelayClient, RelayRefusedError } from '../../src/cli/relay/relay-client.js';
import { ConfigError, DEFAULT_LIMITS, resolveConfig } from '../../src/daemon/config.js';
import { killAllDaemons, spawnDaemon } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';

const dirs: string[] = [];
afterAll(async () => {
  await killAllDaemons();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('registrations per hour', () => {
  it('defaults to 20 per client address', () => {
    expect(resolveConfig({}, {}).limits.registrationsPerAddressPerHour).toBe(20);
    expect(DEFAULT_LIMITS.registrationsPerAddressPerHour).toBe(20);
  });

  it('takes the flag over the environment, and leaves every other limit alone', () => {
    const fromEnv = resolveConfig({}, { METACHAT_REGISTRATIONS_PER_HOUR: '500' });
    expect(fromEnv.limits.registrationsPerAddressPerHour).toBe(500);
    const fromFlag = resolveConfig(
      { registrationsPerHour: '7' },
      { METACHAT_REGISTRATIONS_PER_HOUR: '500' },
    );
    expect(fromFlag.limits).toEqual({ ...DEFAULT_LIMITS, registrationsPerAddressPerHour: 7 });
  });

  it.each(['0', '-1', '1.5', 'many', '1000001'])('refuses %s with a ConfigError', (value) => {
    expect(() => resolveConfig({ registrationsPerHour: value }, {})).toThrow(ConfigError);
    expect(() => resolveConfig({}, { METACHAT_REGISTRATIONS_PER_HOUR: value })).toThrow(
      /Registrations per hour must be a whole number/,
    );
  });

  it('reaches the running daemon through --registrations-per-hour', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    const daemon = await spawnDaemon(dataDir, ['--registrations-per-hour', '1']);
    const codes: string[] = [];
    for (const name of ['hourly-one', 'hourly-two']) {
      const client = await RelayClient.connect(daemon.url);
      const { request } = await prepareRegistration(name, 'correct horse battery');
      codes.push(
        await client.register(request).then(
          () => 'ok',
          (error: unknown) => (error instanceof RelayRefusedError ? error.code : String(error)),
        ),
      );
      client.close();
    }
    expect(codes).toEqual(['ok', 'RATE_LIMITED']);
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  });
});
