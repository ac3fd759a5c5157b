import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startRpc, type RpcProcess } from '../support/jsonrpc-process.js';
import { HOSTILE_CLI_PASSWORD, HostileCliWorld } from './cli-world.js';

let world: HostileCliWorld;
let rpc: RpcProcess | undefined;

beforeAll(async () => {
  world = await HostileCliWorld.start('metachat-jsonrpc-flood-');
  await world.register('alice');
  await world.register('bob');
}, 60_000);

afterAll(async () => {
  rpc?.child.kill('SIGKILL');
  await world.stop();
});

describe('metachat jsonrpc against a flooding relay', () => {
  it('drops receipt and presence pushes for a reader that stopped reading, and its memory stays bounded', async () => {
    const alice = startRpc(world.home('alice'), world.hostile.url, HOSTILE_CLI_PASSWORD);
    rpc = alice;
    expect((await alice.request('inbox')).error).toBeUndefined();
    const [conn] = world.hostile.connectionsOf(world.id('alice'));
    if (conn === undefined) throw new Error('alice is not connected through the hostile relay');
    const before = await alice.memory();
    // The reader stops reading; the relay pushes 300,000 receipts (about 40 MB of notifications).
    alice.child.stdout.pause();
    const pushes = 300_000;
    for (let i = 0; i < pushes; i++) {
      conn.push('delivered', {
        id: i.toString(16).padStart(32, '0'),
        to: world.id('bob'),
        seq: i + 1,
      });
      if (i % 10_000 === 9_999) await new Promise((resolve) => setImmediate(resolve));
    }
    // A request written meanwhile is not read until the reader catches up, then it is answered.
    const pending = alice.request('verify', { peer: world.id('bob') }, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const during = await alice.memory();
    alice.child.stdout.resume();
    expect((await pending).result).toMatchObject({ id: world.id('bob') });
    const dropped = await alice.waitFor(
      (m) => m.method === 'warning' && m.params?.['code'] === 'NOTIFICATIONS_DROPPED',
      30_000,
    );
    expect(Number(dropped.params?.['dropped'])).toBeGreaterThan(0);
    const receipts = alice.messages.filter((m) => m.method === 'receipt').length;
    expect(receipts + Number(dropped.params?.['dropped'])).toBeLessThanOrEqual(pushes);
    process.stdout.write(
      `jsonrpc flood: ${String(receipts)} receipts written, ${String(dropped.params?.['dropped'])} dropped, peak +${String(during.peakKb - before.peakKb)} KiB\n`,
    );
    // Held output is bounded (1 MiB and what was in flight), not the 40 MB pushed.
    expect(during.peakKb - before.peakKb).toBeLessThan(32 * 1024);
    alice.child.kill('SIGTERM');
    expect(await alice.exited).toBe(0);
  }, 120_000);
});
