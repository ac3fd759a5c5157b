import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../support/cli-process.js';
import { startRpc, type RpcMessage, type RpcProcess } from '../support/jsonrpc-process.js';
import { startTestRelay, tempDir, type TestRelay } from '../support/relay-harness.js';

const PASSWORD = 'correct horse battery';

let relay: TestRelay;
let root: string;
const running: RpcProcess[] = [];

function rpc(name: string): RpcProcess {
  const process = startRpc(join(root, name), relay.url, PASSWORD, []);
  running.push(process);
  return process;
}

async function register(name: string): Promise<void> {
  const result = await runCli(
    [
      'register',
      name,
      '--json',
      '--home',
      join(root, name),
      '--server',
      relay.url,
      '--password-stdin',
    ],
    { input: `${PASSWORD}\n` },
  );
  expect(result.code).toBe(0);
}

const notified =
  (method: string, match: (params: Record<string, unknown>) => boolean) => (message: RpcMessage) =>
    message.method === method && message.params !== undefined && match(message.params);

beforeAll(async () => {
  relay = await startTestRelay();
  root = await tempDir('metachat-jsonrpc-edits-');
  await Promise.all(['alice', 'bob'].map(register));
}, 60_000);

afterAll(async () => {
  for (const process of running) process.child.kill('SIGKILL');
  await relay.stop();
  await rm(root, { recursive: true, force: true });
});

describe('metachat jsonrpc: replies, edits and deletes', () => {
  it('sends a reply, an edit and a delete; notifications and history carry the fields', async () => {
    const alice = rpc('alice');
    const bob = rpc('bob');
    const first = await alice.request('send', { peer: 'bob', text: 'the tram at 9' });
    const id = String(first.result?.['id']);
    await bob.waitFor(notified('message', (p) => p['id'] === id));
    const reply = await bob.request('send', { peer: 'alice', text: 'fine', replyTo: id });
    expect(reply.error).toBeUndefined();
    await alice.waitFor(notified('message', (p) => p['replyTo'] === id && p['text'] === 'fine'));

    const edit = await alice.request('edit', { peer: 'bob', id, text: 'the tram at 10' });
    expect(edit.result).toMatchObject({ target: id });
    const edited = await bob.waitFor(notified('message', (p) => p['edits'] === id));
    expect(edited.params).toMatchObject({ text: 'the tram at 10', state: 'applied' });

    // Bob cannot edit or delete Alice's message: refused before anything is sent.
    const forged = await bob.request('edit', { peer: 'alice', id, text: 'bob was here' });
    expect(forged.error).toMatchObject({ code: -32000, data: { code: 'EDIT_FORBIDDEN' } });
    const unknown = await alice.request('delete', { peer: 'bob', id: 'f'.repeat(32) });
    expect(unknown.error?.data.code).toBe('UNKNOWN_MESSAGE');
    const badId = await alice.request('delete', { peer: 'bob', id: 'XYZ' });
    expect(badId.error?.code).toBe(-32602);

    let history = await bob.request('history', { peer: 'alice' });
    let messages = history.result?.['messages'] as Record<string, unknown>[];
    expect(messages.map((m) => [m['text'], m['edited'] ?? false])).toEqual([
      ['the tram at 10', true],
      ['fine', false],
    ]);
    expect(messages[1]?.['quote']).toMatchObject({ state: 'shown', excerpt: 'the tram at 10' });

    const deleted = await alice.request('delete', { peer: 'bob', id });
    expect(deleted.error).toBeUndefined();
    await bob.waitFor(notified('message', (p) => p['deletes'] === id && p['state'] === 'applied'));
    history = await bob.request('history', { peer: 'alice' });
    messages = history.result?.['messages'] as Record<string, unknown>[];
    expect(messages[0]).toMatchObject({ id, text: '', deleted: true });
    const search = await bob.request('search', { words: 'tram' });
    expect(search.result?.['results']).toEqual([]);
  }, 120_000);
});
