import { constants, privateDecrypt, publicEncrypt, randomBytes, sign } from 'node:crypto';
import { Bench } from 'tinybench';
import {
  assertKeyPairMatches,
  derivePasswordKeys,
  generateKeyPair,
  identifierFromUsername,
  newKdfParams,
  openPacket,
  packetSigningBytes,
  sealPacket,
  unwrapPrivateKey,
  wrapPrivateKey,
  type Body,
  type KeyPair,
  type Packet,
} from '../src/core/index.js';
import { runGroupBench } from './group-bench.js';
import { measurements, printRatio, printTable } from './report.js';

const FAST_TASK_MS = 1500;

function sealer(sender: KeyPair, recipient: KeyPair, body: Body): () => Packet {
  const from = identifierFromUsername('alice');
  const to = identifierFromUsername('bob');
  return () =>
    sealPacket({
      sender: { identifier: from, keyPair: sender },
      recipient: { identifier: to, publicKey: recipient.publicKey },
      body,
    });
}

/** Seal and open per message beside the raw RSA-2048 private-key floor, then register and login, then groups. */
export async function runCoreBench(): Promise<void> {
  const alice = await generateKeyPair();
  const bob = await generateKeyPair();
  const bobId = identifierFromUsername('bob');
  const short: Body = { v: 1, type: 'text', text: 'See you at eight, bring the maps.' };
  const long: Body = { v: 1, type: 'text', text: 'x'.repeat(16 * 1024) };
  const sealShort = sealer(alice, bob, short);
  const sealLong = sealer(alice, bob, long);
  const shortPacket = sealShort();
  const longPacket = sealLong();
  const signingBytes = packetSigningBytes(shortPacket);
  const wrappedKey = publicEncrypt(
    { key: bob.publicKey.keyObject, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    randomBytes(32),
  );
  const reader = { identifier: bobId, privateKey: bob.privateKey };
  const sender = { identifier: identifierFromUsername('alice'), publicKey: alice.publicKey };

  const perMessage = new Bench({ time: FAST_TASK_MS, warmupTime: 300 });
  perMessage
    .add('floor: RSA-2048 PSS sign (1 private op)', () => {
      sign('sha256', signingBytes, {
        key: alice.privateKey.keyObject,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
    })
    .add('seal (33-byte text)', () => {
      sealShort();
    })
    .add('floor: RSA-2048 OAEP decrypt (1 private op)', () => {
      privateDecrypt(
        {
          key: bob.privateKey.keyObject,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha256',
        },
        wrappedKey,
      );
    })
    .add('open (33-byte text)', () => {
      openPacket({ packet: shortPacket, reader, sender });
    })
    .add('seal (16 KiB text)', () => {
      sealLong();
    })
    .add('open (16 KiB text)', () => {
      openPacket({ packet: longPacket, reader, sender });
    });
  await perMessage.run();
  const m = measurements(perMessage);
  printTable('Core: per message (median of each)', m.values());

  const password = 'correct horse battery staple';
  const params = newKdfParams();
  const aliceId = identifierFromUsername('alice');
  const registered = await derivePasswordKeys(password, aliceId, params);
  const wrapped = wrapPrivateKey(alice.privateKey, registered.keyEncryptionKey, aliceId);
  const accounts = new Bench({ time: 3000, warmupTime: 0, iterations: 8 });
  accounts
    .add('register: RSA keygen + PBKDF2 600k + HKDF + wrap', async () => {
      const pair = await generateKeyPair();
      const keys = await derivePasswordKeys(password, aliceId, newKdfParams());
      wrapPrivateKey(pair.privateKey, keys.keyEncryptionKey, aliceId);
    })
    .add('login: PBKDF2 600k + HKDF + unwrap + key check', async () => {
      const keys = await derivePasswordKeys(password, aliceId, params);
      assertKeyPairMatches(
        unwrapPrivateKey(wrapped, keys.keyEncryptionKey, aliceId),
        alice.publicKey,
      );
    });
  await accounts.run();
  printTable('Core: accounts (median of each)', measurements(accounts).values());

  const median = (name: string) => m.get(name)?.medianMs ?? Number.NaN;
  const sealRatio =
    median('seal (33-byte text)') / median('floor: RSA-2048 PSS sign (1 private op)');
  const openRatio =
    median('open (33-byte text)') / median('floor: RSA-2048 OAEP decrypt (1 private op)');
  console.log('');
  printRatio('seal / one RSA-2048 private op (sign)', sealRatio, '<= 1.5x', sealRatio <= 1.5);
  printRatio('open / one RSA-2048 private op (decrypt)', openRatio, '<= 1.5x', openRatio <= 1.5);
  await runGroupBench();
}
