import type { Profile } from '../../src/cli/profile/profile.js';
import type { Session } from '../../src/cli/relay/session.js';
import {
  startTestRelay,
  newUser,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';
import { startHostileRelay, type HostileRelay } from './hostile-relay.js';

/** A real relay, a hostile one in front of it, and three users registered through it. */
export interface HostileWorld {
  readonly real: TestRelay;
  readonly hostile: HostileRelay;
  readonly alice: TestUser;
  readonly bob: TestUser;
  readonly carol: TestUser;
  stop(): Promise<void>;
}

/** Starts the world; every user talks to the hostile relay only. */
export async function startHostileWorld(): Promise<HostileWorld> {
  const real = await startTestRelay();
  const hostile = await startHostileRelay(real.url);
  const [alice, bob, carol] = await Promise.all(
    ['alice', 'bob', 'carol'].map((name) => newUser(hostile.url, name)),
  );
  if (!alice || !bob || !carol) throw new Error('users not registered');
  return {
    real,
    hostile,
    alice,
    bob,
    carol,
    async stop() {
      for (const user of [alice, bob, carol]) user.client.close();
      await hostile.close();
      await real.stop();
    },
  };
}

/** A device profile for a test user, as `register` would have saved it. */
export function profileOf(user: TestUser, server: string): Profile {
  return {
    v: 1,
    server,
    username: user.username,
    identifier: user.identifier,
    publicKey: user.keyPair.publicKey.encoded,
    wrappedPrivateKey: user.wrappedPrivateKey,
    kdf: user.kdf,
    shareUsername: false,
    seenUpTo: 0,
    peers: {},
  };
}

/** A CLI session for a test user over a live connection, with a fresh profile (never saved). */
export function sessionOf(user: TestUser, server: string, client = user.client): Session {
  return { home: '/nonexistent', profile: profileOf(user, server), account: user, client };
}
