import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const VECTOR_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'vectors');

/** Reads one committed vector file as untyped JSON; each test narrows what it uses. */
export function readVector(
  name:
    | 'identity'
    | 'keys'
    | 'password'
    | 'packet'
    | 'auth'
    | 'credentials'
    | 'group'
    | 'rotation'
    | 'deletion',
): unknown {
  return JSON.parse(readFileSync(join(VECTOR_DIR, `${name}.json`), 'utf8'));
}

/** The shape of one key entry in keys.json. */
export interface KeyVector {
  username: string;
  identifier: string;
  privateKey: string;
  publicKey: string;
  fingerprint: string;
}

/** The shape of keys.json. */
export interface KeysVector {
  alice: KeyVector;
  bob: KeyVector;
  safetyNumber: string;
}
