import { createHash } from 'node:crypto';
import type {
  GroupEntry,
  RetiredIdentifier,
  StoredStreamRecord,
  UserRecord,
} from '../core/index.js';
import type { StreamState } from './lowdb-source.js';

/** JSON with every object's keys sorted: the same bytes whichever store (jsonb reorders keys) it came from. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What an import moved: counts, and a SHA-256 over everything in a fixed order. */
export interface ImportSummary {
  readonly users: number;
  readonly packets: number;
  /** Identifiers with a delivery cursor or a last-seen time. */
  readonly states: number;
  /** Entries of every group log. */
  readonly groupEntries: number;
  /** Tombstones of deleted accounts. */
  readonly retired: number;
  readonly sha256: string;
}

/**
 * Counts and hashes a store's contents the same way on both sides of import-lowdb: users by
 * identifier, then tombstones by identifier, then every record by position, then cursors and last-seen times by identifier,
 * then every group log's entries by group id and index, then the server secret. Fed in that order, equal summaries mean equal contents.
 */
export class ImportTally {
  private readonly hash = createHash('sha256');
  private users = 0;
  private packets = 0;
  private states = 0;
  private groupEntries = 0;
  private retired = 0;

  user(record: UserRecord): void {
    this.users++;
    this.hash.update(`user ${canonical(record)}\n`);
  }

  record(record: StoredStreamRecord): void {
    this.packets++;
    this.hash.update(`record ${canonical(record)}\n`);
  }

  state(state: StreamState): void {
    this.states++;
    this.hash.update(`state ${canonical(state)}\n`);
  }

  /** A deleted account's tombstone; they come after the users, by identifier. */
  tombstone(tombstone: RetiredIdentifier): void {
    this.retired++;
    this.hash.update(`retired ${canonical(tombstone)}\n`);
  }

  groupEntry(entry: GroupEntry): void {
    this.groupEntries++;
    this.hash.update(`group ${canonical(entry)}\n`);
  }

  /** The last item; then the summary. */
  finish(secret: Buffer): ImportSummary {
    this.hash.update(`secret ${secret.toString('hex')}\n`);
    return {
      users: this.users,
      packets: this.packets,
      states: this.states,
      groupEntries: this.groupEntries,
      retired: this.retired,
      sha256: this.hash.digest('hex'),
    };
  }
}
