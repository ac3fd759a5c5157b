import { z } from 'zod';

/** A request id: JSON-RPC allows a string, a number or null; ours are bounded. */
export const rpcIdSchema = z.union([z.string().max(128), z.number(), z.null()]);

/** A request id as parsed. */
export type RpcId = z.infer<typeof rpcIdSchema>;

/**
 * One JSON-RPC 2.0 request (with an id) or notification (without). Params are by name only; a
 * member the spec does not define is refused rather than ignored.
 */
export const rpcRequestSchema = z
  .object({
    jsonrpc: z.literal('2.0'),
    id: rpcIdSchema.optional(),
    method: z.string().min(1).max(64),
    params: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** A packet id as `send` answers it: 32 lowercase hex digits. */
const packetIdParam = z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex digits');

/** A message text, bounded before its own check (refusalOf). */
const textParam = z
  .string()
  .min(1)
  .max(64 * 1024);

/** A peer as the CLI takes one: identifier, identifier#fingerprint, alias or username. */
const peerSchema = z.string().min(1).max(200);

/** The params of each method, parsed from `unknown` before the method runs. */
export const methodParams = {
  send: z.object({ peer: peerSchema, text: textParam, replyTo: packetIdParam.optional() }).strict(),
  edit: z.object({ peer: peerSchema, id: packetIdParam, text: textParam }).strict(),
  delete: z.object({ peer: peerSchema, id: packetIdParam }).strict(),
  history: z
    .object({
      peer: peerSchema,
      limit: z.number().int().min(1).max(100).optional(),
      before: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
    })
    .strict(),
  inbox: z.object({}).strict(),
  search: z
    .object({
      words: z.string().min(1).max(1024),
      peer: peerSchema.optional(),
      limit: z.number().int().min(1).max(200).optional(),
    })
    .strict(),
  verify: z.object({ peer: peerSchema, trust: z.boolean().optional() }).strict(),
} as const;

/** The methods this mode answers. */
export type MethodName = keyof typeof methodParams;

/** The params a method receives, once parsed. */
export type ParamsOf<M extends MethodName> = z.infer<(typeof methodParams)[M]>;

/** Whether a method name is one of ours (not an inherited property of the table). */
export function isMethod(name: string): name is MethodName {
  return Object.hasOwn(methodParams, name);
}
