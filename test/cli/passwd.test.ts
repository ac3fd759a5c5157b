import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { identifierFromUsername, KDF_DEFAULT_ITERATIONS } from '../../src/core/index.js';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import { startHostileRelay, type HostileRelay } from '../hostile/hostile-relay.js';

const FIRST = 'the first password';
const SECOND = 'the second password';
let daemon: DaemonProcess;
let hostile: HostileRelay;
let dataDir: string;
let root: string;

function home(name: string): string {
  return join(root, name);
}

async function cli(
  name: string,
  args: string[],
  input: string,
  server = daemon.url,
  env: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  return runCli([...args, '--home', home(name), '--server', server, '--password-stdin'], {
    input,
    env,
  });
}

async function kdfOf(name: string): Promise<{ salt: string; iterations: number }> {
  const profile = JSON.parse(await readFile(join(home(name), 'profile.json'), 'utf8')) as {
    kdf: { salt: string; iterations: number };
  };
  return profile.kdf;
}

async function kdfSalt(name: string): Promise<string> {
  return (await kdfOf(name)).salt;
}

beforeAll(async () => {
  dataDir = await tempDir();
  root = await tempDir('metachat-homes-');
  daemon = await spawnDaemon(dataDir);
  hostile = await startHostileRelay(daemon.url);
  expect((await cli('bob', ['register', 'bob'], `${FIRST}\n`)).code).toBe(0);
}, 60_000);

afterAll(async () => {
  await hostile.close();
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('metachat passwd', () => {
  it('changes the password: the old one stops at once, other devices keep their copy until they log in', async () => {
    expect((await cli('alice', ['register', 'alice'], `${FIRST}\n`)).code).toBe(0);
    expect((await cli('alice-laptop', ['login', 'alice'], `${FIRST}\n`)).code).toBe(0);
    const before = await kdfSalt('alice');

    const changed = await cli('alice', ['passwd'], `${FIRST}\n${SECOND}\n`);
    expect(changed.stderr).toBe('');
    expect(changed.code).toBe(0);
    expect(changed.stdout).toMatch(/Password changed/);
    expect(changed.stdout).toMatch(/Other devices .* OLD password, until they log in again/);
    expect(await kdfSalt('alice')).not.toBe(before);

    // A new device: the old password is refused by the relay, the new one works.
    const old = await cli('alice-phone', ['login', 'alice'], `${FIRST}\n`);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/Wrong username or password/);
    expect((await cli('alice-phone', ['login', 'alice'], `${SECOND}\n`)).code).toBe(0);

    // This device now opens with the new password only.
    expect((await cli('alice', ['send', 'bob', 'with the new one'], `${SECOND}\n`)).code).toBe(0);
    expect((await cli('alice', ['send', 'bob', 'with the old one'], `${FIRST}\n`)).code).toBe(1);

    // The laptop still opens its profile copy with the old password, and still sends.
    const laptop = await cli('alice-laptop', ['send', 'bob', 'from the laptop'], `${FIRST}\n`);
    expect(laptop.code).toBe(0);
    // Its next login needs the new password.
    const relogin = await cli('alice-laptop', ['login', 'alice', '--force'], `${SECOND}\n`);
    expect(relogin.code).toBe(0);
  }, 120_000);

  it('refuses the same new password, a short one, and a wrong current one', async () => {
    expect((await cli('carol', ['register', 'carol'], `${FIRST}\n`)).code).toBe(0);
    const same = await cli('carol', ['passwd'], `${FIRST}\n${FIRST}\n`);
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/same as the current one/);
    const short = await cli('carol', ['passwd'], `${FIRST}\nshort\n`);
    expect(short.code).not.toBe(0);
    expect(short.stderr).toMatch(/at least 8 characters/);
    const wrong = await cli('carol', ['passwd'], `not the password\n${SECOND}\n`);
    expect(wrong.code).toBe(1);
    // Nothing changed: the first password still logs in.
    expect((await cli('carol-2', ['login', 'carol'], `${FIRST}\n`)).code).toBe(0);
  }, 120_000);

  it('a relay that replays the old wrap (keeping the old password working) is caught at the next login', async () => {
    expect((await cli('dave', ['register', 'dave'], `${FIRST}\n`, hostile.url)).code).toBe(0);
    // The relay keeps what it served before the change.
    let oldKdf: unknown;
    let oldLogin: unknown;
    hostile.behave({
      reply(event, _payload, response) {
        if (event === 'prelogin') oldKdf = response;
        if (event === 'login') oldLogin = response;
        return response;
      },
    });
    expect((await cli('dave-2', ['login', 'dave'], `${FIRST}\n`, hostile.url)).code).toBe(0);
    hostile.behave({});
    expect((await cli('dave', ['passwd'], `${FIRST}\n${SECOND}\n`, hostile.url)).code).toBe(0);

    // Now it pretends nothing happened: old parameters, old wrap, and any proof accepted.
    hostile.behave({
      answer(event) {
        if (event === 'prelogin') return oldKdf;
        if (event === 'login') return oldLogin;
        return undefined;
      },
    });
    const replayed = await cli('dave', ['login', 'dave', '--force'], `${FIRST}\n`, hostile.url);
    expect(replayed.code).toBe(1);
    expect(replayed.stderr).toMatch(/older than the ones this device set or saw/);
    // With the new password the replayed wrap does not open: caught as well.
    const withNew = await cli('dave', ['login', 'dave', '--force'], `${SECOND}\n`, hostile.url);
    expect(withNew.code).toBe(1);
    expect(withNew.stderr).toMatch(/does not decrypt with this password/);

    // The current statement served with the old wrap: the signature does not cover it.
    let current: { credentials?: unknown } | undefined;
    hostile.behave({
      reply(event, _payload, response) {
        if (event === 'login') current = response as { credentials?: unknown };
        return response;
      },
    });
    expect((await cli('dave-3', ['login', 'dave'], `${SECOND}\n`, hostile.url)).code).toBe(0);
    hostile.behave({
      answer(event) {
        if (event === 'prelogin') return oldKdf;
        if (event === 'login')
          return { ...(oldLogin as object), credentials: current?.credentials };
        return undefined;
      },
    });
    const mixed = await cli('dave', ['login', 'dave', '--force'], `${FIRST}\n`, hostile.url);
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toMatch(/your key did not sign/);
    hostile.behave({});
    // The profile of the device that changed the password was never replaced by the replay.
    expect(
      (await cli('dave', ['send', 'bob', 'still mine'], `${SECOND}\n`, hostile.url)).code,
    ).toBe(0);
  }, 180_000);

  it('login raises KDF parameters below the target: same password, new salt and wrap, told to the relay in a signed change', async () => {
    expect((await cli('erin', ['register', 'erin'], `${FIRST}\n`)).code).toBe(0);
    expect((await kdfOf('erin')).iterations).toBe(KDF_DEFAULT_ITERATIONS);
    const target = KDF_DEFAULT_ITERATIONS + 100_000;
    const upgraded = await cli('erin-2', ['login', 'erin'], `${FIRST}\n`, daemon.url, {
      METACHAT_KDF_ITERATIONS: String(target),
    });
    expect(upgraded.stderr).toBe('');
    expect(upgraded.code).toBe(0);
    expect((await kdfOf('erin-2')).iterations).toBe(target);
    const client = await RelayClient.connect(daemon.url);
    try {
      const served = await client.prelogin(identifierFromUsername('erin'));
      expect(served.iterations).toBe(target);
      expect(served.salt).toBe((await kdfOf('erin-2')).salt);
    } finally {
      client.close();
    }
    // The same password still logs in (now at the higher cost), and the first device keeps working.
    expect((await cli('erin-3', ['login', 'erin'], `${FIRST}\n`)).code).toBe(0);
    expect((await kdfOf('erin-3')).iterations).toBe(target);
    expect((await cli('erin', ['send', 'bob', 'old copy'], `${FIRST}\n`)).code).toBe(0);
  }, 120_000);

  it('refuses a METACHAT_KDF_ITERATIONS outside [default, ceiling] (usage error)', async () => {
    const low = await cli('frank', ['register', 'frank'], `${FIRST}\n`, daemon.url, {
      METACHAT_KDF_ITERATIONS: String(KDF_DEFAULT_ITERATIONS - 1),
    });
    expect(low.code).toBe(2);
    expect(low.stderr).toMatch(/METACHAT_KDF_ITERATIONS must be a whole number/);
  });
});
