import { isDeepStrictEqual } from 'node:util';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A three-way merge of JSON values, so two processes sharing one profile (the chat screen and a
 * `verify --trust` in another terminal) keep each other's changes: whatever only one side changed
 * since `base` wins; objects changed on both sides merge key by key; for anything else changed on
 * both sides, `mine` (the newer write) wins. An absent key is `undefined`.
 */
export function mergeJson(base: unknown, mine: unknown, theirs: unknown): unknown {
  if (isDeepStrictEqual(mine, base)) return theirs;
  if (isDeepStrictEqual(theirs, base) || isDeepStrictEqual(theirs, mine)) return mine;
  if (!isObject(mine) || !isObject(theirs)) return mine;
  const common = isObject(base) ? base : {};
  const merged: JsonObject = {};
  for (const key of new Set([...Object.keys(mine), ...Object.keys(theirs)])) {
    const value = mergeJson(common[key], mine[key], theirs[key]);
    if (value !== undefined) merged[key] = value;
  }
  return merged;
}
