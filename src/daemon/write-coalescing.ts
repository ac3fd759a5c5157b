import type { Socket as NetSocket } from 'node:net';
import type { Server } from 'socket.io';

/** The parts of an engine.io connection this module reads: its current transport's TCP socket. */
interface EngineConnection {
  readonly transport: { readonly socket?: { readonly _socket?: unknown } };
  on(event: 'upgrade', listener: () => void): void;
}

const coalesced = new WeakSet<NetSocket>();

/**
 * Holds a TCP socket corked until the end of the event-loop turn whenever something corks it, so
 * every WebSocket frame written to one connection in that turn leaves in a single writev. A group
 * commit acknowledges and pushes many packets at once; without this, each frame is a system call.
 */
export function coalesceSocketWrites(net: NetSocket): void {
  if (coalesced.has(net)) return;
  coalesced.add(net);
  const cork = net.cork.bind(net);
  const uncork = net.uncork.bind(net);
  let held = false;
  net.cork = () => {
    if (!held) {
      held = true;
      cork();
      setImmediate(() => {
        held = false;
        uncork();
      });
    }
    cork();
  };
}

function netSocketOf(connection: EngineConnection): NetSocket | undefined {
  const net = connection.transport.socket?._socket;
  return net !== null && typeof net === 'object' && 'cork' in net ? (net as NetSocket) : undefined;
}

/**
 * Coalesces writes on every WebSocket connection of a Socket.IO server, including one that
 * upgrades from long-polling; a polling response is one write already.
 */
export function coalesceServerWrites(io: Server): void {
  io.engine.on('connection', (connection: EngineConnection) => {
    const apply = () => {
      const net = netSocketOf(connection);
      if (net) coalesceSocketWrites(net);
    };
    apply();
    connection.on('upgrade', apply);
  });
}
