import { afterAll, describe, expect, it } from '@jest/globals';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { prepareRegistration } from '../../src/cli/relay/account.js';
import { io, type Socket } from 'socket.io-client';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { bytesToBase64, bytesToHex, systemRandom } from '../../src/core/index.js';
import { newUser, startTestRelay } from '../support/relay-harness.js';
import { refusalCode as codeOf } from '../support/refusal-code.js';

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

const WRONG = bytesToBase64(new Uint8Array(32));

describe('the login lockout', () => {
  it('cannot be flushed by failing logins for many unregistered identifiers', async () => {
    const TRACKED = 2_000;
    const server = await startTestRelay({
      limits: {
        maxTrackedUnknownIdentifiers: TRACKED,
        loginFailuresPerAddress: 1e9,
        loginFailuresPerConnection: 1e9,
        eventsPerSecond: 1e6,
        eventBurst: 1e6,
      },
    });
    cleanup.push(() => server.stop());
    const victim = await newUser(server.url, 'victim');
    cleanup.push(() => victim.client.close());
    const attacker = await RelayClient.connect(server.url);
    cleanup.push(() => attacker.close());
    for (let i = 0; i < 5; i++) await codeOf(() => attacker.login(victim.identifier, WRONG));
    expect(await codeOf(() => attacker.login(victim.identifier, WRONG))).toBe('RATE_LIMITED');
    // Three times as many unknown identifiers as the relay remembers, 200 in flight at a time.
    for (let batch = 0; batch < 30; batch++) {
      const codes = await Promise.all(
        Array.from({ length: 200 }, () =>
          codeOf(() => attacker.login(bytesToHex(systemRandom(32)), WRONG)),
        ),
      );
      expect(codes.every((code) => code === 'LOGIN_FAILED')).toBe(true);
    }
    expect(await codeOf(() => attacker.login(victim.identifier, WRONG))).toBe('RATE_LIMITED');
  }, 120_000);

  it('gives each client address a budget of failed logins, whatever the identifiers', async () => {
    const server = await startTestRelay({ limits: { loginFailuresPerAddress: 12 } });
    cleanup.push(() => server.stop());
    const codes: string[] = [];
    for (let connection = 0; connection < 3; connection++) {
      const client = await RelayClient.connect(server.url);
      for (let i = 0; i < 5; i++)
        codes.push(await codeOf(() => client.login(bytesToHex(systemRandom(32)), WRONG)));
      client.close();
    }
    expect(codes.filter((code) => code === 'LOGIN_FAILED')).toHaveLength(12);
    expect(codes.slice(12)).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
  }, 60_000);
});

/**
 * A reverse proxy of the test's own, like nginx with `proxy_add_x_forwarded_for`: it appends the
 * address it saw to X-Forwarded-For and connects to the relay from 127.0.0.2.
 */
async function startProxy(target: string): Promise<{ url: string; server: Server }> {
  const { hostname, port } = new URL(target);
  const server = createServer((req, res) => {
    const upstream = httpRequest(
      {
        host: hostname,
        port: Number(port),
        localAddress: '127.0.0.2',
        method: req.method,
        path: req.url,
        headers: {
          ...req.headers,
          'x-forwarded-for': forwarded(req.headers['x-forwarded-for'], req.socket.remoteAddress),
        },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  server.on('upgrade', (req, socket, head) => {
    const upstream = netConnect({ host: hostname, port: Number(port), localAddress: '127.0.0.2' });
    const headers = {
      ...req.headers,
      'x-forwarded-for': forwarded(req.headers['x-forwarded-for'], req.socket.remoteAddress),
    };
    upstream.write(
      `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n` +
        Object.entries(headers)
          .map(([name, value]) => `${name}: ${String(value)}\r\n`)
          .join('') +
        '\r\n',
    );
    upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function forwarded(previous: string | string[] | undefined, peer: string | undefined): string {
  const before = Array.isArray(previous) ? previous.join(', ') : previous;
  return [before, peer].filter(Boolean).join(', ');
}

/** Connects from a given loopback address (another "client"), with a forged header if asked. */
async function clientFrom(url: string, localAddress: string, forged?: string): Promise<Socket> {
  const socket = io(url, {
    transports: ['websocket'],
    reconnection: false,
    localAddress,
    ...(forged === undefined ? {} : { extraHeaders: { 'x-forwarded-for': forged } }),
  } as Parameters<typeof io>[1]);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
  return socket;
}

describe('--trust-proxy', () => {
  it('uses X-Forwarded-For only from the trusted proxy, for registrations and connections', async () => {
    const server = await startTestRelay({
      trustProxy: ['127.0.0.2'],
      limits: { registrationsPerAddressPerHour: 1, maxConnectionsPerAddress: 2 },
    });
    cleanup.push(() => server.stop());
    const proxy = await startProxy(server.url);
    cleanup.push(() => new Promise((resolve) => proxy.server.close(resolve)));
    cleanup.push(() => proxy.server.closeAllConnections());
    const register = async (client: Socket, name: string) => {
      const { request } = await prepareRegistration(name, 'correct horse battery');
      const ack = (await client.timeout(10_000).emitWithAck('register', request)) as {
        ok: boolean;
        error?: { code: string };
      };
      client.close();
      return ack.ok ? 'ok' : ack.error?.code;
    };
    // Through the proxy, two clients at two addresses each have their own budget; a forged header
    // sent to the proxy is ignored, since the proxy appends the address it saw.
    expect(await register(await clientFrom(proxy.url, '127.0.0.3'), 'via-one')).toBe('ok');
    expect(await register(await clientFrom(proxy.url, '127.0.0.4', '10.9.9.9'), 'via-two')).toBe(
      'ok',
    );
    expect(await register(await clientFrom(proxy.url, '127.0.0.3', '10.8.8.8'), 'via-three')).toBe(
      'RATE_LIMITED',
    );
    // Directly, from an untrusted peer, a forged header counts for nothing.
    expect(
      await register(await clientFrom(server.url, '127.0.0.5', '10.1.1.1'), 'direct-one'),
    ).toBe('ok');
    expect(
      await register(await clientFrom(server.url, '127.0.0.5', '10.2.2.2'), 'direct-two'),
    ).toBe('RATE_LIMITED');
    // The connection cap counts forwarded addresses too: two per client, not two for the proxy.
    const held: Socket[] = [];
    cleanup.push(() => held.forEach((client) => client.close()));
    for (const address of ['127.0.0.6', '127.0.0.6', '127.0.0.7', '127.0.0.7'])
      held.push(await clientFrom(proxy.url, address));
    await expect(clientFrom(proxy.url, '127.0.0.6')).rejects.toThrow();
  }, 120_000);
});
