import { reportOf } from '../error-report.js';

/** JSON-RPC 2.0's own error codes, and the one code this mode uses for every MetaChat failure. */
export const RPC_CODES = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** A MetaChat failure: `data.code` names it (docs/protocol.md section 12, or the CLI's own codes). */
  METACHAT_ERROR: -32000,
} as const;

/** The `error` member of a response: JSON-RPC's integer code, a message, and the string code scripts switch on. */
export interface RpcErrorObject {
  readonly code: number;
  readonly message: string;
  readonly data: { readonly code: string };
}

/** A failure this mode reports itself (bad JSON, unknown method, bad params, search not available…). */
export class RpcError extends Error {
  override readonly name = 'RpcError';

  constructor(
    readonly rpcCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The error object for any failure: one of ours as it is, any other through the CLI's own report. */
export function rpcErrorOf(error: unknown): RpcErrorObject {
  if (error instanceof RpcError)
    return { code: error.rpcCode, message: error.message, data: { code: error.code } };
  const report = reportOf(error);
  // A usage error of a command (an empty or unsendable text) is a bad parameter here.
  const code =
    report.code === 'USAGE'
      ? RPC_CODES.INVALID_PARAMS
      : report.code === 'UNEXPECTED'
        ? RPC_CODES.INTERNAL_ERROR
        : RPC_CODES.METACHAT_ERROR;
  return { code, message: report.message, data: { code: report.code } };
}
