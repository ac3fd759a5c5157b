import { z } from 'zod';
import { entryHashSchema, groupEntrySchema, groupIdSchema } from './group-entry.js';
import { MAX_GROUP_LOG_ENTRIES, MAX_GROUP_LOG_PAGE_ENTRIES } from './group-limits.js';

/** `group-log`: one page of a group's log, from an entry index on (the client asks from its head). */
export const groupLogRequestSchema = z.strictObject({
  group: groupIdSchema,
  from: z
    .number()
    .int()
    .min(0)
    .max(MAX_GROUP_LOG_ENTRIES - 1)
    .optional(),
  limit: z.number().int().min(1).max(MAX_GROUP_LOG_PAGE_ENTRIES).optional(),
});

/** A `group-log` request, as parsed by the relay. */
export type GroupLogRequest = z.infer<typeof groupLogRequestSchema>;

/** A `group-log` page, as a client parses it: the entries are checked again by updateGroupLog. */
export const groupLogPageSchema = z.strictObject({
  entries: z.array(groupEntrySchema).max(MAX_GROUP_LOG_PAGE_ENTRIES),
  more: z.boolean(),
});

/** A `group-log` page. */
export type GroupLogPage = z.infer<typeof groupLogPageSchema>;

/** The answer to `group-append`: the entry's place and hash, and whether it was stored already. */
export const groupAppendResultSchema = z.strictObject({
  index: z
    .number()
    .int()
    .min(0)
    .max(MAX_GROUP_LOG_ENTRIES - 1),
  hash: entryHashSchema,
  duplicate: z.boolean(),
});

/** A `group-append` result. */
export type GroupAppendResult = z.infer<typeof groupAppendResultSchema>;

/** Most group ids one `group-list` page carries. */
export const MAX_GROUP_LIST_PAGE = 100;

/** `group-list`: the groups whose log, at the relay's head, lists the caller, after a group id. */
export const groupListRequestSchema = z.strictObject({ after: groupIdSchema.optional() });

/** A `group-list` request. */
export type GroupListRequest = z.infer<typeof groupListRequestSchema>;

/** A `group-list` page: group ids in ascending order; a client verifies each group's log itself. */
export const groupListPageSchema = z.strictObject({
  groups: z.array(groupIdSchema).max(MAX_GROUP_LIST_PAGE),
  more: z.boolean(),
});

/** A `group-list` page. */
export type GroupListPage = z.infer<typeof groupListPageSchema>;
