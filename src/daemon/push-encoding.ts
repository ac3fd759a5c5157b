import * as parser from 'socket.io-parser';

/**
 * An event argument already serialized as JSON: the encoder below writes its text where
 * `JSON.stringify` would have written the value, so a packet stored as JSON is not encoded again
 * for its push. Only for this process's own broadcasts: another daemon's adapter would not know it.
 */
export class EncodedJson {
  constructor(readonly json: string) {}
}

/**
 * The default Socket.IO encoder, byte for byte (the clients keep the default decoder), except that
 * an event whose one argument is EncodedJson is written from that text without a second
 * serialization or a search for binary attachments.
 */
class PreEncodingEncoder extends parser.Encoder {
  override encode(packet: parser.Packet): ReturnType<parser.Encoder['encode']> {
    const data: unknown = packet.data;
    if (
      packet.type === parser.PacketType.EVENT &&
      packet.id === undefined &&
      (packet.nsp === '/' || !packet.nsp) &&
      Array.isArray(data) &&
      data.length === 2 &&
      typeof data[0] === 'string' &&
      data[1] instanceof EncodedJson
    ) {
      return [`${parser.PacketType.EVENT}[${JSON.stringify(data[0])},${data[1].json}]`];
    }
    return super.encode(packet);
  }
}

/** The `parser` option of the relay's Socket.IO server: the default one with PreEncodingEncoder. */
export const preEncodingParser = {
  protocol: parser.protocol,
  Encoder: PreEncodingEncoder,
  Decoder: parser.Decoder,
};

/**
 * A stream record's JSON, `JSON.stringify({ seq, serverTime, packet, delivered? })` to the byte,
 * from the packet's JSON (JSON.stringify writes a safe integer and a boolean as String does).
 */
export function streamRecordJson(
  seq: number,
  serverTime: number,
  packetJson: string,
  delivered?: boolean,
): EncodedJson {
  const flag = delivered === undefined ? '' : `,"delivered":${String(delivered)}`;
  return new EncodedJson(
    `{"seq":${String(seq)},"serverTime":${String(serverTime)},"packet":${packetJson}${flag}}`,
  );
}
