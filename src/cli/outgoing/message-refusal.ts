import { MetaChatError, encodeBody } from '../../core/index.js';
import { DRAFT_MAX_BYTES, cleanDraftText, draftBytes, kib } from './draft-text.js';

/** Why the core would refuse this text as a message, in words for the user (`send` and the chat screen alike); null if it would not. */
export function refusalOf(text: string): string | null {
  if (text.trim().length === 0) return 'Not sent: the message is only white space.';
  if (cleanDraftText(text).stripped > 0) {
    return 'Not sent: the message holds control characters (they can disguise text on a terminal).';
  }
  const bytes = draftBytes(text);
  if (bytes > DRAFT_MAX_BYTES) {
    return `Not sent: the message is ${kib(bytes)}, over the ${kib(DRAFT_MAX_BYTES)} limit.`;
  }
  try {
    encodeBody({ v: 1, type: 'text', text });
  } catch (error) {
    if (!(error instanceof MetaChatError)) throw error;
    return 'Not sent: the message cannot be encoded.';
  }
  return null;
}
