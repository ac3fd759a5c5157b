import { afterAll, describe, expect, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { registerAccount, type Account } from '../../src/cli/relay/account.js';
import { killAllDaemons, spawnDaemon } from '../support/daemon-process.js';
import { sealText, tempDir } from '../support/relay-harness.js';
import { storedState } from '../support/stored-state.js';
import { packetsOf } from '../support/records.js';

const dirs: string[] = [];
afterAll(async () => {
  await killAllDaemons();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function connectAs(url: string, account: Account): Promise<RelayClient> {
  const client = await RelayClient.connect(url, { timeoutMs: 5000 });
  await client.authenticate(account.identifier, account.keyPair.privateKey);
  return client;
}

async function allPackets(client: RelayClient): Promise<{ seq: number; id: string }[]> {
  const out: { seq: number; id: string }[] = [];
  for (;;) {
    const page = await client.sync(out.length, 500);
    out.push(...packetsOf(page.packets).map((p) => ({ seq: p.seq, id: p.packet.id })));
    if (!page.more) return out;
  }
}

describe('crash safety', () => {
  it('keeps every acknowledged message through SIGKILLs in the middle of a stream of sends', async () => {
    // Bounded: three rounds, each stopped by a kill after a few dozen acks or 15 s.
    const dataDir = await tempDir();
    dirs.push(dataDir);
    let daemon = await spawnDaemon(dataDir);
    const setup = await RelayClient.connect(daemon.url);
    const alice = await registerAccount(setup, 'alice', 'correct horse battery');
    const bob = await registerAccount(setup, 'bob', 'correct horse battery');
    setup.close();
    const acked = new Set<string>();

    for (let round = 0; round < 3; round++) {
      const client = await connectAs(daemon.url, alice);
      const killAfter = 40 + round * 25;
      let stop = false;
      const senders = Array.from({ length: 8 }, async () => {
        while (!stop) {
          const packet = sealText(alice, bob, `round ${round}`);
          try {
            await client.send(packet);
            acked.add(packet.id);
          } catch {
            return; // the daemon died under us: this packet was never acknowledged
          }
        }
      });
      const deadline = Date.now() + 15_000;
      while (acked.size < killAfter * (round + 1) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      daemon.child.kill('SIGKILL');
      stop = true;
      await daemon.exited;
      await Promise.all(senders);
      client.close();
      daemon = await spawnDaemon(dataDir);
    }

    const reader = await connectAs(daemon.url, bob);
    const stream = await allPackets(reader);
    reader.close();
    const ids = stream.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(stream.map((p) => p.seq)).toEqual(stream.map((_, i) => i + 1));
    const missing = [...acked].filter((id) => !ids.includes(id));
    expect(missing).toEqual([]);
    expect(acked.size).toBeGreaterThanOrEqual(40 + 65 + 90);
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 90_000);

  it('exits 0 on SIGTERM and SIGINT, and a restart keeps users, messages and presence', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    const first = await spawnDaemon(dataDir);
    const client = await RelayClient.connect(first.url);
    const carol = await registerAccount(client, 'carol', 'correct horse battery');
    await client.authenticate(carol.identifier, carol.keyPair.privateKey);
    const sent = [sealText(carol, carol, 'note one'), sealText(carol, carol, 'note two')];
    for (const packet of sent) await client.send(packet);
    client.close();
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);

    const second = await spawnDaemon(dataDir);
    const again = await connectAs(second.url, carol);
    expect((await allPackets(again)).map((p) => p.id)).toEqual(sent.map((p) => p.id));
    again.close();
    second.child.kill('SIGINT');
    expect((await second.exited).code).toBe(0);
    const stored = await storedState(dataDir);
    expect(stored.presence).toContain(carol.identifier);
    expect(stored.users).toEqual([carol.identifier]);
  });
});
