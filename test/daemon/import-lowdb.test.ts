import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { deleteAccountOnRelay } from '../../src/cli/relay/account-deletion.js';
import { loginAccount, prepareRegistration } from '../../src/cli/relay/account.js';
import { RelayClient, RelayRefusedError } from '../../src/cli/relay/relay-client.js';
import {
  createGroupEntry,
  identifierFromUsername,
  isGroupRecord,
  leaveGroupEntry,
  sealGroupMessage,
  updateGroupLog,
  type GroupEntry,
  type GroupLog,
  type PresenceUpdate,
  type PublicKey,
} from '../../src/core/index.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { newUser, sealText, tempDir, type TestUser } from '../support/relay-harness.js';

/**
 * import-lowdb end to end: a data directory made by a real daemon (users, messages both ways, a
 * note to self, receipts, last-seen times), moved by the real CLI into a real PostgreSQL, then
 * served by a daemon on that database to socket.io clients that log in again with their passwords.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PASSWORD = 'import me safely please';
let server: PostgresServer;
const dirs: string[] = [];

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);

afterAll(async () => {
  await killAllDaemons();
  await server.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/daemon/main.ts'), ...args],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function codeOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (error instanceof RelayRefusedError) return error.code;
    throw error;
  }
  throw new Error('expected a refusal');
}

async function stopDaemon(daemon: DaemonProcess): Promise<void> {
  daemon.child.kill('SIGTERM');
  expect((await daemon.exited).code).toBe(0);
}

/** Every file under a directory with its size, mtime and SHA-256: equal snapshots, untouched source. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path);
    const sha = createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
    out.push(`${path} ${String(info.size)} ${String(info.mtimeMs)} ${sha}`);
  }
  return out.sort();
}

/** A user's whole stream as a client sees it: seq, packet id, delivered flag. */
async function streamOf(client: RelayClient): Promise<string[]> {
  const out: string[] = [];
  for (let pages = 0; pages < 100; pages++) {
    const page = await client.sync(out.length, 7);
    out.push(
      ...page.packets.map((p) =>
        isGroupRecord(p)
          ? `${String(p.seq)} group ${p.groupMessage.id}`
          : `${String(p.seq)} ${p.packet.id} ${String(p.delivered)}`,
      ),
    );
    if (!page.more) break;
  }
  return out;
}

async function count(url: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    return Number(rows[0]?.n);
  } finally {
    await client.end();
  }
}

/** Bob's view after login: his stream, his history with alice, alice's presence as pushed to him. */
async function bobsView(url: string, alice: string) {
  const client = await RelayClient.connect(url);
  const presence: PresenceUpdate[] = [];
  client.on('presence', (update) => presence.push(update));
  const bob = await loginAccount(client, 'imp-bob', PASSWORD);
  await client.authenticate(bob.identifier, bob.keyPair.privateKey);
  const stream = await streamOf(client);
  const history = (await client.history(alice, undefined, 50)).packets.map((p) => p.seq);
  for (let i = 0; i < 50 && presence.length === 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  return { client, stream, history, presence: presence.map((p) => p.lastSeen) };
}

describe('metachat-daemon import-lowdb', () => {
  let source = '';
  let alice: TestUser;
  let before: { alice: string[]; bob: string[]; bobHistory: number[]; seen: number[] };
  let fake: unknown;
  let groupLog: GroupEntry[] = [];
  let firstHead: GroupLog | undefined;
  let keyring: (id: string) => PublicKey = () => {
    throw new Error('no keys yet');
  };
  const unknown = identifierFromUsername('nobody-registered-this');

  beforeAll(async () => {
    source = await tempDir('metachat-import-src-');
    dirs.push(source);
    const daemon = await spawnDaemon(source);
    alice = await newUser(daemon.url, 'imp-alice', PASSWORD);
    const bob = await newUser(daemon.url, 'imp-bob', PASSWORD);
    const carol = await newUser(daemon.url, 'imp-carol', PASSWORD);
    for (let i = 0; i < 24; i++) {
      if (i % 3 === 2) await bob.client.send(sealText(bob, alice, `b${String(i)}`));
      else await alice.client.send(sealText(alice, bob, `a${String(i)}`));
    }
    await alice.client.send(sealText(alice, alice, 'a note to self'));
    await carol.client.send(sealText(carol, alice, 'from a stranger'));
    await bob.client.receipt(10);
    await alice.client.receipt(4);
    fake = await alice.client.prelogin(unknown);
    // A group of three whose log has two entries: carol left.
    const pin = (u: TestUser) => ({ identifier: u.identifier, publicKey: u.keyPair.publicKey });
    const create = createGroupEntry(alice, [pin(bob), pin(carol)], 'Imported');
    await alice.client.groupAppend(create);
    const keyOf = (id: string) =>
      [alice, bob, carol].find((u) => u.identifier === id)?.keyPair.publicKey ??
      alice.keyPair.publicKey;
    keyring = keyOf;
    firstHead = updateGroupLog(null, [create], keyOf, create.group);
    // A group message to all three, stored once in three streams.
    await bob.client.groupSend(
      sealGroupMessage({
        sender: { identifier: bob.identifier, keyPair: bob.keyPair },
        log: firstHead,
        keyOf,
        body: { v: 1, type: 'text', text: 'to the group' },
      }),
    );
    const leave = leaveGroupEntry(firstHead, carol, keyOf);
    await carol.client.groupAppend(leave);
    groupLog = [create, leave];
    // A deleted account: its tombstone moves too.
    const dave = await newUser(daemon.url, 'imp-dave', PASSWORD);
    await deleteAccountOnRelay(dave.client, dave, PASSWORD);
    dave.client.close();
    carol.client.close();
    bob.client.close();
    const aliceStream = await streamOf(alice.client);
    alice.client.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const view = await bobsView(daemon.url, alice.identifier);
    view.client.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    before = {
      alice: aliceStream,
      bob: view.stream,
      bobHistory: view.history,
      seen: view.presence,
    };
    expect(before.alice).toHaveLength(27);
    expect(before.bob.filter((line) => line.endsWith(' true')).length).toBeGreaterThan(0);
    expect(before.seen).toHaveLength(1);
    await stopDaemon(daemon);
  }, 120_000);

  it('moves users, streams, cursors, presence and the server secret, verified, leaving the source as it was', async () => {
    const url = await server.createDatabase();
    const untouched = await snapshot(source);
    const first = await cli(['import-lowdb', source, '--store', url]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const line =
      /imported .* in [\d.]+ s, verified: 3 users, 27 packets, (\d+) cursors or last-seen times, 2 group log entries, 1 deleted accounts, sha256 ([0-9a-f]{64})/.exec(
        first.stdout,
      );
    expect(line).not.toBeNull();
    expect(first.stdout).not.toContain('postgres@');
    expect(await snapshot(source)).toEqual(untouched);
    // The same import again: nothing written, the same counts and checksum.
    const again = await cli(['import-lowdb', source, '--store', url]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already holds this import, nothing written');
    expect(again.stdout).toContain(line?.[2] ?? 'no checksum');
    expect(await count(url, 'packets')).toBe(27);
    expect(await count(url, 'group_places')).toBe(2);
    expect(await count(url, 'group_spells')).toBe(3);
    expect(await count(url, 'group_entries')).toBe(2);

    const data = await tempDir('metachat-import-unused-');
    dirs.push(data);
    const daemon = await spawnDaemon(data, ['--store', url]);
    const view = await bobsView(daemon.url, alice.identifier);
    expect(view.stream).toEqual(before.bob);
    expect(view.history).toEqual(before.bobHistory);
    expect(view.presence).toEqual(before.seen);
    const client = await RelayClient.connect(daemon.url);
    // The same server secret: an unknown identifier gets the same fake parameters as before.
    expect(await client.prelogin(unknown)).toEqual(fake);
    const account = await loginAccount(client, 'imp-alice', PASSWORD);
    await client.authenticate(account.identifier, account.keyPair.privateKey);
    expect(await streamOf(client)).toEqual(before.alice);
    // The group log came along, both entries, in order.
    expect((await client.groupLog(groupLog[0]?.group ?? '')).entries).toEqual(groupLog);
    // The deleted account stays deleted: its name is retired, lookups say so.
    expect(await codeOf(() => client.key(identifierFromUsername('imp-dave')))).toBe(
      'ACCOUNT_DELETED',
    );
    const retry = await prepareRegistration('imp-dave', 'another password please');
    const registering = await RelayClient.connect(daemon.url);
    expect(await codeOf(() => registering.register(retry.request))).toBe('IDENTIFIER_RETIRED');
    registering.close();
    // The stream goes on where it was: the next seq, no gap.
    const ack = await client.send(sealText(account, account, 'after the move'));
    expect(ack).toMatchObject({ seq: 28, duplicate: false });
    // The spells came along: a message for the first head (carol a member there) is placed in
    // the streams of its three members, carol's too.
    if (firstHead === undefined) throw new Error('no group');
    const forOld = sealGroupMessage({
      sender: { identifier: account.identifier, keyPair: account.keyPair },
      log: firstHead,
      keyOf: keyring,
      body: { v: 1, type: 'text', text: 'after the move' },
    });
    expect(await client.groupSend(forOld)).toMatchObject({ seq: 29, duplicate: false });
    expect(await count(url, 'group_places')).toBe(4);
    const inGroup = await client.groupHistory(firstHead.group);
    expect(inGroup.packets.filter(isGroupRecord).map((r) => r.seq)).toEqual([
      Number(before.alice.find((line) => line.includes(' group '))?.split(' ')[0]),
      29,
    ]);
    client.close();
    view.client.close();
    await stopDaemon(daemon);
  }, 120_000);

  it('refuses a database that holds something else, and changes nothing in it', async () => {
    const url = await server.createDatabase();
    expect((await cli(['import-lowdb', source, '--store', url])).code).toBe(0);
    const other = await tempDir('metachat-import-other-');
    dirs.push(other);
    const daemon = await spawnDaemon(other);
    (await newUser(daemon.url, 'imp-dave', PASSWORD)).client.close();
    await stopDaemon(daemon);
    const refused = await cli(['import-lowdb', other, '--store', url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('already holds other data (3 users, 27 packets');
    expect(await count(url, 'users')).toBe(3);
  }, 60_000);

  it('imports nothing from a corrupt source, with an error naming the file', async () => {
    const broken = await tempDir('metachat-import-broken-');
    dirs.push(broken);
    await cp(source, broken, { recursive: true });
    // Damage the journal's first commit: intact commits follow it, so this is no torn tail.
    const [journal] = (await readdir(join(broken, 'segments'))).filter((n) =>
      n.endsWith('.journal'),
    );
    const handle = await open(join(broken, 'segments', journal ?? 'none'), 'r+');
    await handle.write(Buffer.from('XXXXXXXX'), 0, 8, 40);
    await handle.close();
    const url = await server.createDatabase();
    const result = await cli(['import-lowdb', broken, '--store', url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('a commit is damaged but a later one is intact');
    expect(result.stderr).toContain('.journal');
    for (const table of ['users', 'packets', 'streams', 'server_secret'])
      expect(await count(url, table)).toBe(0);

    // A key file that is not JSON, and a cursor past the end of its stream: typed errors too.
    await cp(source, broken, { recursive: true, force: true });
    const keyFile = join(broken, 'keys', `${alice.identifier}.json`);
    await writeFile(keyFile, '{"identifier": ');
    const badKey = await cli(['import-lowdb', broken, '--store', url]);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain(`${alice.identifier}.json cannot be loaded`);
    await cp(join(source, 'keys'), join(broken, 'keys'), { recursive: true, force: true });
    const db = JSON.parse(await readFile(join(broken, 'db.json'), 'utf8')) as {
      cursors: Record<string, number>;
    };
    db.cursors[alice.identifier] = 9999;
    await writeFile(join(broken, 'db.json'), JSON.stringify(db));
    const badCursor = await cli(['import-lowdb', broken, '--store', url]);
    expect(badCursor.code).toBe(1);
    expect(badCursor.stderr).toContain('a delivery cursor lies past the end of its stream');
    expect(await count(url, 'users')).toBe(0);

    const empty = await tempDir('metachat-import-empty-');
    dirs.push(empty);
    await mkdir(join(empty, 'keys'));
    const notData = await cli(['import-lowdb', empty, '--store', url]);
    expect(notData.code).toBe(1);
    expect(notData.stderr).toContain('is not a MetaChat data directory (it has no db.json)');
  }, 60_000);
});
