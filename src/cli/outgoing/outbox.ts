import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { identifierSchema, packetSchema, type Packet } from '../../core/index.js';
import { writePrivateFile } from '../profile/private-file.js';

/** Messages sealed but not yet acknowledged: sent again on reconnect with the same packet ids. */
const outboxSchema = z.strictObject({
  v: z.literal(1),
  entries: z
    .array(
      z.strictObject({
        peer: identifierSchema,
        packets: z.array(packetSchema).min(1).max(2),
        /** Why the relay refused it, for a message waiting for the user to retry. */
        failure: z.string().max(500).optional(),
      }),
    )
    .max(10_000),
});

/** One queued message: its sealed packets (a `hello` may come first) and its refusal, if any. */
export type OutboxEntry = z.infer<typeof outboxSchema>['entries'][number];

const FILE = 'outbox.json';

/** The outbox file exists but cannot be read: it is kept aside, not silently dropped. */
export class OutboxCorruptError extends Error {
  override readonly name = 'OutboxCorruptError';
}

/** Reads the queued messages of this device (none if there is no outbox). */
export async function loadOutbox(home: string): Promise<OutboxEntry[]> {
  let text: string;
  try {
    text = await readFile(join(home, FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const result = outboxSchema.safeParse(parsed);
  if (!result.success) {
    throw new OutboxCorruptError(
      `The outbox ${join(home, FILE)} is damaged; move it away to start without the unsent messages.`,
    );
  }
  return result.data.entries;
}

/** Saves the queue (sealed packets only: ciphertext, never plaintext), or removes the file when empty. */
export async function saveOutbox(home: string, entries: readonly OutboxEntry[]): Promise<void> {
  if (entries.length === 0) {
    await rm(join(home, FILE), { force: true });
    return;
  }
  await writePrivateFile(home, FILE, `${JSON.stringify({ v: 1, entries })}\n`);
}

/** The id a queued message is known by: its text packet's id. */
export function outboxId(entry: { readonly packets: readonly Packet[] }): string {
  return entry.packets[entry.packets.length - 1]?.id ?? '';
}
