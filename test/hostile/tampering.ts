import type { StoredPacket } from '../../src/core/index.js';
import type { Behaviour, HostileConnection } from './hostile-relay.js';

/** A page acknowledgement as the real relay sends it. */
interface PageAck {
  ok: true;
  packets: StoredPacket[];
  more: boolean;
}

function isPageAck(response: unknown): response is PageAck {
  return (
    typeof response === 'object' &&
    response !== null &&
    (response as { ok?: unknown }).ok === true &&
    Array.isArray((response as { packets?: unknown }).packets)
  );
}

/** Where a list of stored packets is going: a `sync` page, a `history` page, or one push. */
export type Route = 'sync' | 'history' | 'push';

/**
 * Rewrites every list of stored packets that goes to `target`'s connections: sync and history pages
 * and (one at a time) `packet` pushes. The rewrite may drop, add, reorder or alter packets.
 */
export function rewriteStream(
  target: string,
  rewrite: (packets: StoredPacket[], route: Route, conn: HostileConnection) => StoredPacket[],
): Behaviour {
  return {
    reply(event, _payload, response, conn) {
      if (conn.identifier !== target || (event !== 'sync' && event !== 'history')) return response;
      if (!isPageAck(response)) return response;
      return { ...response, packets: rewrite(response.packets, event, conn) };
    },
    push(event, payload, conn) {
      if (conn.identifier !== target || event !== 'packet') return [payload];
      return rewrite([payload as StoredPacket], 'push', conn);
    },
  };
}

/** Alters each packet `pick` selects on its way to `target`, wherever it travels. */
export function alterPackets(
  target: string,
  pick: (stored: StoredPacket) => boolean,
  alter: (stored: StoredPacket) => StoredPacket,
): Behaviour {
  return rewriteStream(target, (packets) =>
    packets.map((stored) => (pick(stored) ? alter(stored) : stored)),
  );
}

/** Flips one bit of a base64 field's first byte, keeping the encoding canonical. */
export function flipBase64(value: string): string {
  const bytes = Buffer.from(value, 'base64');
  bytes[0] = (bytes[0] ?? 0) ^ 1;
  return bytes.toString('base64');
}

/** Flips one bit of a hex string's last digit. */
export function flipHex(value: string): string {
  const last = parseInt(value.slice(-1), 16) ^ 1;
  return value.slice(0, -1) + last.toString(16);
}
