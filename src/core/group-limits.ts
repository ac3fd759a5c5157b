import { GCM_TAG_BYTES } from './aes-gcm.js';

/**
 * Most members a group may have. The packet limit (65,536 bytes) less a group message's fixed
 * fields (about 710 bytes) and its largest ciphertext (27,328 base64 characters) leaves room for
 * 108 wrapped keys of 347 bytes each (344 base64 characters, quotes and a comma): 100 is that,
 * rounded down to leave a margin (docs/protocol.md section 16.6).
 */
export const MAX_GROUP_MEMBERS = 100;

/**
 * Most entries a group log may hold. A fresh device verifies every one (one RSA-PSS verification
 * and one SHA-256 each): measured 0.60 to 1.23 ms per entry for a 1,000-entry log (6 runs on the
 * shared, loaded 2-core build box), so 6 to 12 s at the bound; the relay stores every one.
 */
export const MAX_GROUP_LOG_ENTRIES = 10_000;

/**
 * Most bytes a group log may hold, counting each entry as its signing bytes plus its 256-byte
 * signature (section 16.6). 10,000 adds (756 B each) fit; a rename for 100 members counts at most
 * 26,984 B (35,596 B of JSON with a 128-byte name), so renames alone stop the log after at most 315
 * of them, not after 10,000 (some 356 MB).
 */
export const MAX_GROUP_LOG_BYTES = 8 * 1024 * 1024;

/** Most entries in one page of a group log fetch; a page is also cut at MAX_GROUP_LOG_PAGE_BYTES. */
export const MAX_GROUP_LOG_PAGE_ENTRIES = 256;

/** Most serialized bytes of entries in one log page (always at least one entry), as a sync page. */
export const MAX_GROUP_LOG_PAGE_BYTES = 2 * 1024 * 1024;

/**
 * Largest encoded body of a group message: half the 1:1 limit, so that one ciphertext and a key for
 * each of MAX_GROUP_MEMBERS members fit in one packet. A 16,384-byte text fits unless it is mostly
 * characters that JSON escapes.
 */
export const MAX_GROUP_BODY_BYTES = 20 * 1024;

/** Largest group message ciphertext, tag included. */
export const MAX_GROUP_CT_BYTES = MAX_GROUP_BODY_BYTES + GCM_TAG_BYTES;

/** Longest group name, in UTF-8 bytes. */
export const MAX_GROUP_NAME_BYTES = 128;

/** Largest encoded group metadata before encryption. */
export const MAX_GROUP_META_BYTES = 512;
