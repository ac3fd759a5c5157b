import { open } from 'node:fs/promises';
import type { StoredRecord } from '../core/index.js';
import { recordSchema, segmentPath } from './segment-files.js';
import { StoreCorruptError } from './store-corrupt-error.js';

/** One record to read from a sealed segment: its log position and where it lies in the file. */
export interface RecordSpan {
  readonly pos: number;
  readonly start: number;
  readonly end: number;
}

/**
 * Reads single records of a sealed segment by byte range, so that a page touching many segments
 * parses a few kilobytes of each instead of the whole file. Each record is checked (schema and
 * position) before it is served; anything else is a corrupt store.
 */
export async function readRecords(
  directory: string,
  k: number,
  spans: readonly RecordSpan[],
): Promise<StoredRecord[]> {
  const path = segmentPath(directory, k);
  const handle = await open(path, 'r');
  try {
    const records: StoredRecord[] = [];
    for (const { pos, start, end } of spans) {
      const buffer = Buffer.alloc(end - start);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
      let parsed: unknown;
      try {
        parsed = JSON.parse(buffer.toString('utf8', 0, bytesRead));
      } catch {
        parsed = undefined;
      }
      const record = recordSchema.safeParse(parsed);
      if (!record.success || record.data.pos !== pos) {
        throw new StoreCorruptError(path, `record ${pos} is not where the sidecar says`);
      }
      records.push(record.data);
    }
    return records;
  } finally {
    await handle.close();
  }
}
