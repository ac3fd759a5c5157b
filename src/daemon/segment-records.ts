import { open } from 'node:fs/promises';
import type { StoredStreamRecord } from '../core/index.js';
import { recordSchema, segmentPath } from './segment-files.js';
import { StoreCorruptError } from './store-corrupt-error.js';

/** One record to read from a sealed segment: its log position and where it lies in the file. */
export interface RecordSpan {
  readonly pos: number;
  readonly start: number;
  /** One past the record's last byte (the separator after it is not part of it). */
  readonly end: number;
}

/** Bytes the store read from segment files, so a page that reads more than it returns shows. */
export interface ReadCounter {
  bytes: number;
}

/** Spans that follow each other in the file (only a separator between them) are read as one run. */
function runsOf(spans: readonly RecordSpan[]): RecordSpan[][] {
  const runs: RecordSpan[][] = [];
  for (const span of spans) {
    const run = runs.at(-1);
    const last = run?.at(-1);
    if (run && last && span.start === last.end + 1) run.push(span);
    else runs.push([span]);
  }
  return runs;
}

/**
 * Reads single records of a sealed segment by byte range: exactly the bytes of the records asked
 * for (one read per run of neighbours, the runs in parallel), never the rest of the file. Each
 * record is checked (schema and position) before it is served; anything else is a corrupt store.
 */
export async function readRecords(
  directory: string,
  k: number,
  spans: readonly RecordSpan[],
  counter?: ReadCounter,
): Promise<StoredStreamRecord[]> {
  const path = segmentPath(directory, k);
  const handle = await open(path, 'r');
  try {
    const runs = await Promise.allSettled(
      runsOf(spans).map(async (run) => {
        const first = run[0]?.start ?? 0;
        const buffer = Buffer.alloc((run.at(-1)?.end ?? first) - first);
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, first);
        if (counter) counter.bytes += bytesRead;
        return run.map(({ pos, start, end }) => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(
              buffer.toString('utf8', start - first, Math.min(end - first, bytesRead)),
            );
          } catch {
            parsed = undefined;
          }
          const record = recordSchema.safeParse(parsed);
          if (!record.success || record.data.pos !== pos) {
            throw new StoreCorruptError(path, `record ${pos} is not where the sidecar says`);
          }
          return record.data;
        });
      }),
    );
    const failed = runs.find((run) => run.status === 'rejected');
    if (failed) throw failed.reason;
    return runs.flatMap((run) => (run.status === 'fulfilled' ? run.value : []));
  } finally {
    await handle.close();
  }
}
