import { Buffer } from 'node:buffer';

/** A zero-copy Buffer view of bytes, for the node:crypto calls whose types still demand Buffer. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A plain Uint8Array view of a node:crypto result, so core's API never hands out Buffers. */
export function asBytes(view: ArrayBufferView | ArrayBuffer): Uint8Array {
  if (view instanceof ArrayBuffer) return new Uint8Array(view);
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
