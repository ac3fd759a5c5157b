/**
 * Replaces what a terminal would act on (C0/C1 controls, DEL, bidi overrides) with a visible
 * placeholder, keeping newlines and tabs. Core already refuses such text; this is the last line of
 * defence between relay-supplied bytes and the terminal.
 */
export function sanitizeForTerminal(text: string): string {
  return text.replace(/\t/g, '  ').replace(
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    '\ufffd',
  );
}

/** Relay-supplied text for a one-line message on stderr: sanitized, and newlines folded. */
export function oneLine(text: string): string {
  return sanitizeForTerminal(text).replace(/[\r\n]+/g, ' ');
}
