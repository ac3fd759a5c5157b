import type { Packet, PacketBytes } from '../core/index.js';

function decode(text: string): Uint8Array {
  const buffer = Buffer.from(text, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * Decodes the binary fields of a packet that parsePacket already accepted (so each field is known
 * to be canonical base64 of the right length) with Node's native decoder: the relay's hot path.
 */
export function decodeParsedPacketBytes(packet: Packet): PacketBytes {
  return {
    iv: decode(packet.iv),
    ct: decode(packet.ct),
    keyTo: decode(packet.keyTo),
    keyFrom: decode(packet.keyFrom),
  };
}
