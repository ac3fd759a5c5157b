import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
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

function rpc(name: string, extra: string[] = []): RpcProcess {
  const process = startRpc(home(name), relay.url, PASSWORD, extra);
  running.push(process);
  return process;
}

async function register(name: string): Promise<void> {
  const result = await runCli(
    ['register', name, '--json', '--home', home(name), '--server', relay.url, '--password-stdin'],
    { input: `${PASSWORD}\n` },
  );
  expect(result.code).toBe(0);
  ids[name] = (JSON.parse(result.stdout) as { id: string }).id;
}

function id(name: string): string {
  const value = ids[name];
  if (value === undefined) throw new Error(`${name} not registered`);
  return value;
}

const isNotification =
  (method: string, match: (params: Record<string, unknown>) => boolean) => (message: RpcMessage) =>
    message.method === method && message.params !== undefined && match(message.params);

async function stopped(
  process: RpcProcess,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | null> {
  process.child.kill(signal);
  return process.exited;
}

beforeAll(async () => {
  relay = await startTestRelay();
  root = await tempDir('metachat-jsonrpc-');
  await Promise.all(['alice', 'bob', 'carol'].map(register));
}, 60_000);

afterAll(async () => {
  for (const process of running) process.child.kill('SIGKILL');
  await relay.stop();
  await rm(root, { recursive: true, force: true });
});

describe('metachat jsonrpc', () => {
  it('sends, notifies the message and its receipt, and answers history and inbox', async () => {
    const alice = rpc('alice');
    const bob = rpc('bob');
    const first = await bob.request('send', { peer: 'alice', text: 'hello alice' });
    expect(first.error).toBeUndefined();
    expect(first.result?.['to']).toBe(id('alice'));
    expect(typeof first.result?.['seq']).toBe('number');
    expect(first.result?.['firstContact']).toHaveProperty('fingerprint');
    await alice.waitFor(
      isNotification(
        'message',
        (p) => p['text'] === 'hello alice' && p['direction'] === 'incoming',
      ),
    );
    // alice answers: the conversation is two-way, so bob's receipt reaches her as a notification.
    const reply = await alice.request('send', { peer: id('bob'), text: 'hello bob' });
    expect(reply.error).toBeUndefined();
    const replyId = String(reply.result?.['id']);
    await bob.waitFor(isNotification('message', (p) => p['text'] === 'hello bob'));
    const receipt = await alice.waitFor(isNotification('receipt', (p) => p['id'] === replyId));
    expect(receipt.params).toMatchObject({ id: replyId, to: id('bob') });

    const history = await bob.request('history', { peer: 'alice', limit: 10 });
    expect(history.result).toMatchObject({ peer: id('alice'), name: 'alice', more: false });
    const texts = (history.result?.['messages'] as { text: string }[]).map((m) => m.text);
    expect(texts).toEqual(['hello alice', 'hello bob']);
    const inbox = await bob.request('inbox');
    expect(inbox.result?.['conversations']).toEqual([
      expect.objectContaining({ id: id('alice'), name: 'alice' }),
    ]);
    // A presence notification: alice is online, as bob's relay pushed it.
    await bob.waitFor(isNotification('presence', (p) => p['identifier'] === id('alice')));

    expect(await stopped(alice)).toBe(0);
    // The end of standard input stops it as well; the stream mark is saved.
    bob.child.stdin.end();
    expect(await bob.exited).toBe(0);
    const profile = JSON.parse(await readFile(join(home('bob'), 'profile.json'), 'utf8')) as {
      seenUpTo: number;
    };
    expect(profile.seenUpTo).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it('answers each failure with its own code', async () => {
    const alice = rpc('alice');
    const codes = async (line: string) => {
      const before = alice.messages.length;
      alice.write(`${line}\n`);
      const message = await alice.waitFor(
        (m) => alice.messages.indexOf(m) >= before && m.error !== undefined,
      );
      return [message.id, message.error?.code, message.error?.data.code];
    };
    expect(await codes('{"jsonrpc":"2.0","id":1,')).toEqual([null, -32700, 'PARSE_ERROR']);
    expect(await codes('{"id":2,"method":"inbox"}')).toEqual([2, -32600, 'INVALID_REQUEST']);
    expect(await codes('[{"jsonrpc":"2.0","id":3,"method":"inbox"}]')).toEqual([
      null,
      -32600,
      'INVALID_REQUEST',
    ]);
    expect(await codes('{"jsonrpc":"2.0","id":4,"method":"toString"}')).toEqual([
      4,
      -32601,
      'METHOD_NOT_FOUND',
    ]);
    expect(
      await codes('{"jsonrpc":"2.0","id":5,"method":"send","params":{"peer":5,"text":"x"}}'),
    ).toEqual([5, -32602, 'INVALID_PARAMS']);
    expect(
      await codes(
        '{"jsonrpc":"2.0","id":6,"method":"send","params":{"peer":"bob","text":"x","cc":1}}',
      ),
    ).toEqual([6, -32602, 'INVALID_PARAMS']);
    // A text the core refuses (control characters) is a bad parameter too, in the words `send` uses.
    const control = await alice.request('send', { peer: 'bob', text: 'a\u001b[2Jb' });
    expect(control.error).toMatchObject({ code: -32602, data: { code: 'USAGE' } });
    const nobody = await alice.request('send', { peer: 'nosuchuser', text: 'hi' });
    expect(nobody.error).toMatchObject({ code: -32000, data: { code: 'UNKNOWN_PEER' } });
    const unknown = await alice.request('send', { peer: 'f'.repeat(64), text: 'hi' });
    expect(unknown.error).toMatchObject({ code: -32000, data: { code: 'UNKNOWN_IDENTIFIER' } });
    // search: this process's local history (what it sent and verified), newest first.
    const search = await alice.request('search', { words: 'hello' });
    const results = (search.result as { results: { text: string; seq: number }[] }).results;
    expect(results.map((hit) => hit.text)).toEqual(['hello bob', 'hello alice']);
    expect(results.map((hit) => hit.seq)).toEqual(
      [...results.map((hit) => hit.seq)].sort((a, b) => b - a),
    );
    const long = await alice.request('search', { words: 'x '.repeat(20) });
    expect(long.error).toMatchObject({ code: -32000, data: { code: 'SEARCH_TOO_LONG' } });
    // A notification (no id) is never answered, not even with an error.
    const before = alice.messages.length;
    alice.write('{"jsonrpc":"2.0","method":"nope"}\n');
    expect((await alice.request('inbox')).result).toBeDefined();
    expect(alice.messages.slice(before).filter((m) => m.error !== undefined)).toEqual([]);
    expect(await stopped(alice, 'SIGINT')).toBe(0);
  }, 60_000);

  it('refuses to send to a peer whose key changed (KEY_CHANGED), and warns of its messages', async () => {
    // carol's device pinned a key for bob that is not the one the relay serves (alice's).
    const alicePublic = (
      JSON.parse(await readFile(join(home('alice'), 'profile.json'), 'utf8')) as {
        publicKey: string;
      }
    ).publicKey;
    const path = join(home('carol'), 'profile.json');
    const profile = JSON.parse(await readFile(path, 'utf8')) as {
      peers: Record<string, unknown>;
    };
    profile.peers[id('bob')] = { publicKey: alicePublic };
    await writeFile(path, JSON.stringify(profile));

    const carol = rpc('carol');
    const refused = await carol.request('send', { peer: id('bob'), text: 'are you bob?' });
    expect(refused.error).toMatchObject({ code: -32000, data: { code: 'KEY_CHANGED' } });
    const verify = await carol.request('verify', { peer: id('bob') });
    expect(verify.result).toMatchObject({ id: id('bob'), state: 'changed' });
    // Still refused: only `verify --trust` after comparing accepts the new key.
    const again = await carol.request('send', { peer: id('bob'), text: 'are you bob?' });
    expect(again.error?.data.code).toBe('KEY_CHANGED');
    const bob = rpc('bob');
    expect((await bob.request('send', { peer: 'carol', text: 'it is me' })).error).toBeUndefined();
    await carol.waitFor(isNotification('warning', (p) => p['code'] === 'KEY_CHANGED'));
    expect(carol.messages.some((m) => m.method === 'message')).toBe(false);
    expect(await stopped(carol)).toBe(0);
    expect(await stopped(bob)).toBe(0);
  }, 60_000);

  it('refuses a huge line without holding it, and goes on answering', async () => {
    const alice = rpc('alice');
    expect((await alice.request('inbox')).result).toBeDefined();
    const before = await alice.memory();
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 256; i++) alice.write(chunk);
    alice.write('\n');
    const refusal = await alice.waitFor((m) => m.error?.data.code === 'LINE_TOO_LONG', 30_000);
    expect(refusal).toMatchObject({ id: null, error: { code: -32600 } });
    expect((await alice.request('inbox', undefined, 30_000)).result).toBeDefined();
    const after = await alice.memory();
    // 256 MiB went through; the process never held more than a fraction of it (garbage chunks
    // waiting for the collector included).
    expect(after.peakKb - before.peakKb).toBeLessThan(64 * 1024);
    expect(await stopped(alice)).toBe(0);
  }, 60_000);

  it('answers every send asked before SIGTERM, then exits 0', async () => {
    const alice = rpc('alice');
    expect((await alice.request('inbox')).error).toBeUndefined();
    const first = alice.messages.length;
    for (let i = 0; i < 20; i++)
      alice.write(
        `${JSON.stringify({ jsonrpc: '2.0', id: `s${i}`, method: 'send', params: { peer: 'bob', text: `burst ${i}` } })}\n`,
      );
    await alice.waitFor((m) => m.id === 's0');
    expect(await stopped(alice)).toBe(0);
    const answers = alice.messages.slice(first).filter((m) => String(m.id).startsWith('s'));
    expect(answers).toHaveLength(20);
    expect(answers.every((m) => m.result !== undefined)).toBe(true);
  }, 60_000);

  it('listens on a Unix socket of mode 0600, and refuses a path that is not a stale socket', async () => {
    const path = join(root, 'rpc.sock');
    const served = rpc('alice', ['--socket', path]);
    const deadline = Date.now() + 15_000;
    while (!served.stderr().includes('listening for JSON-RPC')) {
      if (Date.now() > deadline) throw new Error(`no socket: ${served.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const info = await stat(path);
    expect(info.isSocket()).toBe(true);
    expect(info.mode & 0o777).toBe(0o600);
    const answer = await new Promise<RpcMessage>((resolve, reject) => {
      const socket = connect(path);
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const line = text.split('\n').find((l) => l.includes('"id":"s"'));
        if (line === undefined) return;
        socket.destroy();
        resolve(JSON.parse(line) as RpcMessage);
      });
      socket.on('error', reject);
      socket.write('{"jsonrpc":"2.0","id":"s","method":"verify","params":{"peer":"bob"}}\n');
    });
    expect(answer.result).toMatchObject({ id: id('bob') });
    // A second one on the same path is refused: somebody listens there.
    const second = await runCli(
      [
        'jsonrpc',
        '--socket',
        path,
        '--home',
        home('bob'),
        '--server',
        relay.url,
        '--password-stdin',
      ],
      { input: `${PASSWORD}\n` },
    );
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/another process listens on it/);
    expect(await stopped(served)).toBe(0);
    await expect(stat(path)).rejects.toThrow();
    // A regular file there is never replaced.
    await writeFile(path, 'precious');
    const onFile = await runCli(
      [
        'jsonrpc',
        '--socket',
        path,
        '--home',
        home('bob'),
        '--server',
        relay.url,
        '--password-stdin',
      ],
      { input: `${PASSWORD}\n` },
    );
    expect(onFile.code).toBe(2);
    expect(onFile.stderr).toMatch(/not a socket/);
    expect(await readFile(path, 'utf8')).toBe('precious');
  }, 60_000);
});
