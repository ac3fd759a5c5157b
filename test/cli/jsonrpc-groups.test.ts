import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../support/cli-process.js';
import { startRpc, type RpcMessage, type RpcProcess } from '../support/jsonrpc-process.js';
import { startTestRelay, tempDir, type TestRelay } from '../support/relay-harness.js';

const PASSWORD = 'correct horse battery';

let relay: TestRelay;
let root: string;
const ids: Record<string, string> = {};
const running: RpcProcess[] = [];

const home = (name: string) => join(root, name);

function rpc(name: string): RpcProcess {
  const process = startRpc(home(name), relay.url, PASSWORD);
  running.push(process);
  return process;
}

/** A CLI command that must succeed: its stdout. */
async function cli(name: string, args: string[]): Promise<string> {
  const result = await runCli(
    [...args, '--home', home(name), '--server', relay.url, '--password-stdin'],
    { input: `${PASSWORD}\n` },
  );
  if (result.code !== 0) throw new Error(`${name} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

const notification =
  (method: string, match: (params: Record<string, unknown>) => boolean) => (message: RpcMessage) =>
    message.method === method && message.params !== undefined && match(message.params);

beforeAll(async () => {
  relay = await startTestRelay();
  root = await tempDir('metachat-jsonrpc-groups-');
  for (const name of ['alice', 'bob', 'carol']) {
    const out = await cli(name, ['register', name, '--json']);
    ids[name] = (JSON.parse(out) as { id: string }).id;
  }
}, 60_000);

afterAll(async () => {
  for (const process of running) process.child.kill('SIGKILL');
  await relay.stop();
  await rm(root, { recursive: true, force: true });
});

describe('metachat jsonrpc with groups', () => {
  let group = '';

  it('notifies membership changes and group messages with group, sender and text; sends and reads group:<g>', async () => {
    const created = JSON.parse(
      await cli('alice', ['group', 'create', 'team', 'bob', '--json']),
    ) as {
      group: string;
    };
    group = created.group;
    const bob = rpc('bob');
    // Once bob's own message is answered, his process follows the stream.
    expect((await bob.request('send', { peer: 'alice', text: 'ready' })).error).toBeUndefined();
    await cli('alice', ['group', 'add', 'team', 'carol']);
    // Before alice's first message bob knows her key only, not yet her name.
    await bob.waitFor(
      notification(
        'group-change',
        (p) => p['group'] === group && / added /.test(String(p['change'])),
      ),
      30_000,
    );
    await cli('alice', ['send', 'group:team', 'hello 👋 team']);
    const hello = await bob.waitFor(
      notification('message', (p) => p['text'] === 'hello 👋 team'),
      30_000,
    );
    expect(hello.params).toMatchObject({
      group,
      name: 'team',
      from: ids['alice'],
      sender: 'alice',
      direction: 'incoming',
      current: true,
    });
    const sent = await bob.request('send', { peer: 'group:team', text: 'reply from bob' });
    expect(sent.error).toBeUndefined();
    expect(sent.result).toMatchObject({ group, seq: expect.any(Number), id: expect.any(String) });
    // A bidi override is refused before anything is sealed, as for a peer.
    const bidi = await bob.request('send', { peer: `group:${group}`, text: 'abc\u202edef' });
    expect(bidi.error).toMatchObject({ code: -32602, data: { code: 'USAGE' } });
    const history = await bob.request('history', { peer: `group:${group.slice(0, 8)}` });
    expect(history.error).toBeUndefined();
    const messages = (history.result?.['messages'] ?? []) as Record<string, unknown>[];
    expect(messages.map((m) => `${String(m['sender'])}: ${String(m['text'])}`)).toEqual([
      'alice: hello 👋 team',
      'me: reply from bob',
    ]);
    expect(history.result).toMatchObject({ group, name: 'team', refused: 0, more: false });
    const unknown = await bob.request('history', { peer: 'group:nosuchgroup' });
    expect(unknown.error).toMatchObject({ data: { code: 'UNKNOWN_GROUP' } });
    bob.child.kill('SIGTERM');
    expect(await bob.exited).toBe(0);
    // Carol reads bob's reply through the CLI.
    expect(await cli('carol', ['history', `group:${group}`])).toMatch(/bob: reply from bob/);
  }, 120_000);

  it('a member whose key changed blocks the group send, named (KEY_CHANGED)', async () => {
    // carol's device pinned a key for bob that is not the one the relay serves (alice's).
    const alicePublic = (
      JSON.parse(await readFile(join(home('alice'), 'profile.json'), 'utf8')) as {
        publicKey: string;
      }
    ).publicKey;
    const path = join(home('carol'), 'profile.json');
    const profile = JSON.parse(await readFile(path, 'utf8')) as { peers: Record<string, unknown> };
    const bobId = String(ids['bob']);
    // Her record of bob keeps the username he proved (his reply carried it): only the key is wrong.
    profile.peers[bobId] = { ...(profile.peers[bobId] as object), publicKey: alicePublic };
    await writeFile(path, JSON.stringify(profile));
    const carol = rpc('carol');
    const refused = await carol.request('send', { peer: 'group:team', text: 'hi all' });
    expect(refused.error).toMatchObject({ code: -32000, data: { code: 'KEY_CHANGED' } });
    expect(refused.error?.message).toMatch(/^bob blocks sending to "team"/);
    carol.child.kill('SIGTERM');
    expect(await carol.exited).toBe(0);
    expect(await cli('alice', ['history', `group:${group}`])).not.toMatch(/hi all/);
  }, 60_000);
});
