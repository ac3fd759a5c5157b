import { randomBytes } from 'node:crypto';
import {
  bytesToBase64,
  bytesToHex,
  createAuthProof,
  generateKeyPair,
  identifierFromUsername,
  newKdfParams,
  packetSigningBytes,
  sealPacket,
  type KeyPair,
  type Packet,
  type RegisterRequest,
} from '../../src/core/index.js';
import { pssSign } from '../../src/core/rsa.js';
import { check, expectOk, Wire } from './wire.js';

/**
 * A throwaway user of one run. The relay cannot check what a registration's wrapped key and login
 * proof were derived from, so they are random bytes of the right sizes: no password, no PBKDF2.
 */
export interface User {
  readonly username: string;
  readonly identifier: string;
  readonly keyPair: KeyPair;
  readonly registration: RegisterRequest;
}

/** A fresh identifier nobody registered (random, so runs never collide). */
export function unregisteredIdentifier(): string {
  return bytesToHex(randomBytes(32));
}

/** A new user with a fresh RSA-2048 key pair and a unique name like `cf3a9c1e0b2d4f-alice`. */
export async function newUser(role: string): Promise<User> {
  const username = `cf${randomBytes(7).toString('hex')}-${role}`.slice(0, 32);
  const identifier = identifierFromUsername(username);
  const keyPair = await generateKeyPair();
  return {
    username,
    identifier,
    keyPair,
    registration: {
      identifier,
      publicKey: keyPair.publicKey.encoded,
      wrappedPrivateKey: {
        iv: bytesToBase64(randomBytes(12)),
        ct: bytesToBase64(randomBytes(1234)),
      },
      kdf: newKdfParams(),
      loginProof: bytesToBase64(randomBytes(32)),
    },
  };
}

/** Asks for a nonce and authenticates the connection as the user; fails if either is refused. */
export async function authenticate(wire: Wire, user: User): Promise<void> {
  const { nonce } = expectOk(await wire.request('challenge'), 'challenge');
  check(typeof nonce === 'string', 'challenge answered without a nonce');
  const proof = createAuthProof(user.keyPair.privateKey, user.identifier, nonce);
  expectOk(
    await wire.request('authenticate', { identifier: user.identifier, proof }),
    'authenticate',
  );
}

/** A text packet from one user to another, sealed and signed as a client would. */
export function textPacket(from: User, to: User, text: string): Packet {
  return sealPacket({
    sender: { identifier: from.identifier, keyPair: from.keyPair },
    recipient: { identifier: to.identifier, publicKey: to.keyPair.publicKey },
    body: { v: 1, type: 'text', text },
  });
}

/** Re-signs a packet whose fields were changed, so only the intended change is wrong with it. */
export function resigned(packet: Packet, signer: User): Packet {
  const { sig: _sig, ...unsigned } = packet;
  const sig = pssSign(signer.keyPair.privateKey.keyObject, packetSigningBytes(unsigned));
  return { ...unsigned, sig: bytesToBase64(sig) };
}

/** What every run shares: the relay, two registered users and one authenticated device of each. */
export interface Fixture {
  readonly url: string;
  readonly alice: User;
  readonly bob: User;
  readonly aliceWire: Wire;
  readonly bobWire: Wire;
  /** The connection that registered both: one registration left before RATE_LIMITED. */
  readonly registrar: Wire;
  /** Connections a behaviour opened; all are closed at the end of the run. */
  readonly opened: Wire[];
  /** Opens a connection that is closed at the end of the run. */
  connect(options?: Parameters<typeof Wire.connect>[1]): Promise<Wire>;
}

/** One behaviour of the conformance list: what section of docs/protocol.md says it, and its check. */
export interface Behaviour {
  /** Stable name, as listed in docs/protocol.md section 15. */
  readonly id: string;
  readonly section: string;
  /** What the relay must do, in a line. */
  readonly says: string;
  run(fixture: Fixture): Promise<void>;
}

/**
 * Registers Alice and Bob over one connection (two of its three registrations) and authenticates
 * one connection for each.
 */
export async function setUp(url: string): Promise<Fixture> {
  const opened: Wire[] = [];
  const connect = async (options?: Parameters<typeof Wire.connect>[1]) => {
    const wire = await Wire.connect(url, options);
    opened.push(wire);
    return wire;
  };
  const [alice, bob] = await Promise.all([newUser('alice'), newUser('bob')]);
  const registrar = await connect();
  for (const user of [alice, bob])
    expectOk(await registrar.request('register', user.registration), `register ${user.username}`);
  const aliceWire = await connect();
  await authenticate(aliceWire, alice);
  const bobWire = await connect();
  await authenticate(bobWire, bob);
  return { url, alice, bob, aliceWire, bobWire, registrar, opened, connect };
}

/** Closes every connection of the run. */
export function tearDown(fixture: Fixture): void {
  for (const wire of fixture.opened) wire.close();
}
