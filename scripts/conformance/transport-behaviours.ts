import { unregisteredIdentifier, type Behaviour } from './fixtures.js';
import { check, expectCode, expectOk } from './wire.js';

/** The transport and the request envelope (sections 10, 10.3). */
export const TRANSPORT_BEHAVIOURS: readonly Behaviour[] = [
  {
    id: 'transport-websocket',
    section: '10',
    says: 'accepts a websocket connection at /socket.io/ on namespace / without an Origin header',
    run: async (f) => {
      const wire = await f.connect({ transport: 'websocket' });
      check(wire.connected, 'not connected');
    },
  },
  {
    id: 'transport-polling',
    section: '10',
    says: 'accepts an HTTP long-polling connection and answers requests over it',
    run: async (f) => {
      const wire = await f.connect({ transport: 'polling' });
      expectOk(
        await wire.request('prelogin', { identifier: unregisteredIdentifier() }),
        'prelogin',
      );
    },
  },
  {
    id: 'transport-origin-refused',
    section: '10, 10.3',
    says: 'refuses a handshake that carries an Origin header (websocket and polling)',
    run: async (f) => {
      for (const transport of ['websocket', 'polling'] as const) {
        const outcome = await f.connect({ transport, origin: 'https://conformance.invalid' }).then(
          () => 'connected',
          () => 'refused',
        );
        check(outcome === 'refused', `a ${transport} handshake with an Origin header connected`);
      }
    },
  },
  {
    id: 'unknown-event',
    section: '10.3',
    says: 'answers an event it does not know with UNKNOWN_EVENT',
    run: async (f) => {
      for (const event of ['launch', 'constructor', '__proto__', 'SYNC'])
        expectCode(await f.aliceWire.request(event, {}), 'UNKNOWN_EVENT', event);
    },
  },
  {
    id: 'extra-arguments',
    section: '10',
    says: 'refuses a request with more than one payload argument with MALFORMED_INPUT',
    run: async (f) => {
      const identifier = unregisteredIdentifier();
      expectCode(
        await f.aliceWire.request('prelogin', { identifier }, { identifier }),
        'MALFORMED_INPUT',
        'prelogin with two payloads',
      );
    },
  },
  {
    id: 'no-ack-ignored',
    section: '10',
    says: 'ignores a request without an acknowledgement and keeps serving the connection',
    run: async (f) => {
      const wire = await f.connect();
      wire.fire('prelogin', { identifier: unregisteredIdentifier() });
      wire.fire('register', { nonsense: true });
      expectOk(await wire.request('challenge'), 'challenge after unacknowledged requests');
    },
  },
  {
    id: 'frame-too-large',
    section: '10.3',
    says: 'closes a connection that sends a frame over 65,536 + 1,024 bytes',
    run: async (f) => {
      const wire = await f.connect();
      wire.fire('send', { padding: 'x'.repeat(70_000) });
      await wire.closed();
    },
  },
];
