import { prepareRegistration, type Account } from '../src/cli/relay/account.js';
import { RelayClient } from '../src/cli/relay/relay-client.js';
import type { RegisterRequest } from '../src/core/index.js';

const PASSWORD = 'soak password, not a secret';

/** Runs `task` over `items` with at most `limit` running at once. */
export async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await task(items[index] as T, index);
      }
    }),
  );
  return results;
}

/**
 * Registers `count` accounts the way the CLI does (RSA-2048 key pair, PBKDF2 600,000 rounds,
 * wrapped private key, one `register` request each on its own connection). Key generation and
 * PBKDF2 run on libuv's thread pool, so preparing several at once uses every core.
 */
export async function registerAccounts(
  url: string,
  count: number,
  progress: (done: number) => void,
): Promise<Account[]> {
  let done = 0;
  const prepared = await inParallel(
    Array.from({ length: count }, (_, i) => `soak-${String(i).padStart(4, '0')}`),
    4,
    async (username) => {
      const registration = await prepareRegistration(username, PASSWORD);
      progress(++done);
      return registration;
    },
  );
  await inParallel(prepared, 16, async ({ request }: { request: RegisterRequest }) => {
    const client = await RelayClient.connect(url, { timeoutMs: 30_000 });
    try {
      await client.register(request);
    } finally {
      client.close();
    }
  });
  return prepared.map(({ account }) => account);
}
