import { createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  KDF_ALGORITHM,
  KDF_DEFAULT_ITERATIONS,
  KDF_SALT_BYTES,
  hexToBytes,
  type KdfParams,
} from '../core/index.js';
import { createFileExclusive } from './atomic-file.js';
import { StoreCorruptError } from './store-corrupt-error.js';

const SECRET_BYTES = 32;

/**
 * A random secret kept in the data directory (0600), from which prelogin derives stable fake KDF
 * parameters for unknown identifiers: a probe cannot tell a registered name from an unknown one.
 */
export class ServerSecret {
  private constructor(private readonly secret: Buffer) {}

  /** A secret kept elsewhere (the PostgreSQL store keeps one for every daemon). */
  static of(secret: Buffer): ServerSecret {
    if (secret.length !== SECRET_BYTES) throw new Error('the server secret must be 32 bytes');
    return new ServerSecret(Buffer.from(secret));
  }

  /** The random bytes a new secret is made of. */
  static fresh(): Buffer {
    return randomBytes(SECRET_BYTES);
  }

  static async open(dataDir: string): Promise<ServerSecret> {
    const path = join(dataDir, 'server-secret.key');
    // Created only on first start: a later start reads it and writes nothing (a full disk is fine).
    let text = await readFile(path, 'utf8').catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    });
    if (text === undefined) {
      await createFileExclusive(path, randomBytes(SECRET_BYTES).toString('hex'));
      text = await readFile(path, 'utf8');
    }
    text = text.trim();
    if (!/^[0-9a-f]{64}$/.test(text))
      throw new StoreCorruptError(path, 'it is not a 32-byte hex secret');
    return new ServerSecret(Buffer.from(hexToBytes(text)));
  }

  /** The parameters an unknown identifier gets: the same every time, indistinguishable from real ones. */
  fakeKdfParams(identifier: string): KdfParams {
    const salt = createHmac('sha256', this.secret)
      .update('MetaChat-v1/prelogin-salt\0')
      .update(identifier)
      .digest()
      .subarray(0, KDF_SALT_BYTES);
    return {
      algorithm: KDF_ALGORITHM,
      iterations: KDF_DEFAULT_ITERATIONS,
      salt: salt.toString('base64'),
    };
  }

  /** A stand-in login-proof hash for unknown identifiers, so a failed login costs the same either way. */
  fakeProofHash(identifier: string): Buffer {
    return createHmac('sha256', this.secret)
      .update('MetaChat-v1/fake-proof\0')
      .update(identifier)
      .digest();
  }
}
