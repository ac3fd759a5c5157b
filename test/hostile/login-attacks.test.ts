import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loginAccount } from '../../src/cli/relay/account.js';
import { WrappedKeyRejectedError } from '../../src/cli/cli-errors.js';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import {
  KdfAboveCeilingError,
  KdfBelowFloorError,
  KeyMismatchError,
} from '../../src/core/index.js';
import type { Behaviour } from './hostile-relay.js';
import { startHostileWorld, type HostileWorld } from './hostile-world.js';

let world: HostileWorld;

beforeAll(async () => {
  world = await startHostileWorld();
}, 60_000);

afterAll(async () => {
  await world.stop();
});

/** Logs Bob in on a new device through the hostile relay behaving as told; returns what reached it. */
async function bobLogsIn(
  behaviour: Behaviour,
): Promise<{ result: Promise<unknown>; events: () => string[] }> {
  world.hostile.behave(behaviour);
  const before = world.hostile.requests.length;
  const client = await RelayClient.connect(world.hostile.url);
  const result = loginAccount(client, 'bob', world.bob.password).finally(() => {
    client.close();
    world.hostile.behave({});
  });
  result.catch(() => undefined);
  return { result, events: () => world.hostile.requests.slice(before).map((r) => r.event) };
}

function preloginAnswer(iterations: number): Behaviour {
  return {
    reply(event, _payload, response) {
      if (event !== 'prelogin') return response;
      const ack = response as { ok: true; kdf: Record<string, unknown> };
      return { ...ack, kdf: { ...ack.kdf, iterations } };
    },
  };
}

describe('a relay that attacks the login of a new device', () => {
  it('honest forwarding logs in (the control case)', async () => {
    const { result } = await bobLogsIn({});
    await expect(result).resolves.toMatchObject({ identifier: world.bob.identifier });
  }, 30_000);

  it('KDF parameters below the floor at prelogin are refused before any proof is sent', async () => {
    const { result, events } = await bobLogsIn(preloginAnswer(1));
    await expect(result).rejects.toBeInstanceOf(KdfBelowFloorError);
    await expect(result).rejects.toThrow(/below the floor of 600000/);
    expect(events()).toEqual(['prelogin']);
  }, 30_000);

  it('KDF parameters above the ceiling are refused too (they would hang the client)', async () => {
    const { result, events } = await bobLogsIn(preloginAnswer(2_000_000_000));
    await expect(result).rejects.toBeInstanceOf(KdfAboveCeilingError);
    expect(events()).toEqual(['prelogin']);
  }, 30_000);

  it('another user’s wrapped private key served at login does not unwrap, and the relay is blamed (WrappedKeyRejectedError)', async () => {
    const { result } = await bobLogsIn({
      reply(event, _payload, response) {
        if (event !== 'login') return response;
        return {
          ok: true,
          publicKey: world.carol.keyPair.publicKey.encoded,
          wrappedPrivateKey: world.carol.wrappedPrivateKey,
        };
      },
    });
    await expect(result).rejects.toBeInstanceOf(WrappedKeyRejectedError);
  }, 30_000);

  it('a wrong public key served with the right wrapped key is caught (KEY_MISMATCH)', async () => {
    const { result } = await bobLogsIn({
      reply(event, _payload, response) {
        if (event !== 'login') return response;
        return { ...(response as object), publicKey: world.carol.keyPair.publicKey.encoded };
      },
    });
    await expect(result).rejects.toBeInstanceOf(KeyMismatchError);
  }, 30_000);
});
