import { UsageError } from '../cli-errors.js';

/** The relay a profile uses when neither --server nor METACHAT_SERVER names one. */
export const DEFAULT_SERVER = 'http://127.0.0.1:7373';

const SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:']);

/** Checks a relay URL from --server or METACHAT_SERVER: anything but an http(s)/ws(s) URL is a usage error. */
export function checkServerUrl(value: string, from: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(
      `${from} "${value.slice(0, 80)}" is not a URL; give one like ${DEFAULT_SERVER}.`,
    );
  }
  if (!SCHEMES.has(url.protocol) || url.hostname.length === 0) {
    throw new UsageError(
      `${from} "${value.slice(0, 80)}" is not an http, https, ws or wss URL with a host; give one like ${DEFAULT_SERVER}.`,
    );
  }
  return value;
}
