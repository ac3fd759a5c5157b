import { RelayError } from '../core/index.js';

/** How much one user may store, and how much free disk the relay keeps in reserve. */
export interface StorageLimits {
  /** Bytes of stored records one sender may have on the relay. */
  readonly quotaBytes: number;
  /** Packets one sender may have on the relay: bounds the in-memory index as bytes bound the disk. */
  readonly quotaPackets: number;
  /**
   * Free bytes the data directory's filesystem must keep after a commit and the seal of its
   * segment: below it every new packet is refused, so the relay can still record receipts and
   * presence, stop cleanly and start again.
   */
  readonly minFreeBytes: number;
}

const MIB = 1024 * 1024;

/** Defaults for a personal or small-team relay: raise them with the daemon's flags. */
export const DEFAULT_STORAGE_LIMITS: StorageLimits = {
  quotaBytes: 256 * MIB,
  quotaPackets: 250_000,
  minFreeBytes: 64 * MIB,
};

const SIZE = /^(\d{1,15})([kmgt]?)$/i;
const UNITS: Record<string, number> = { '': 1, k: 1024, m: MIB, g: 1024 * MIB, t: MIB * MIB };

/** Parses `12345`, `512k`, `64m`, `2g` or `1t` (powers of 1024) into bytes; undefined if malformed. */
export function parseByteSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim());
  if (!match) return undefined;
  const bytes = Number(match[1]) * (UNITS[(match[2] ?? '').toLowerCase()] ?? Number.NaN);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** The refusal of a new packet from a sender that stored all the quota allows (both stores). */
export function quotaExceeded(limits: StorageLimits): RelayError {
  return new RelayError(
    'QUOTA_EXCEEDED',
    `You have stored as much as this relay allows one user (${String(limits.quotaPackets)} packets or ${String(limits.quotaBytes)} bytes); it refuses new messages from you. Ask its operator to raise the quota.`,
  );
}
