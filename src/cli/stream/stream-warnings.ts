import type { StreamIssue } from './stream-guard.js';
import { oneLine, terminalJson } from '../terminal/terminal-text.js';

/** A stream issue as a JSON line for scripts: the same `warning`/`code` shape as a refused packet. */
export function streamIssueJson(issue: StreamIssue): Record<string, unknown> {
  return {
    ...(issue.id === undefined ? {} : { id: issue.id }),
    ...(issue.seq === undefined ? {} : { seq: issue.seq }),
    warning: issue.message,
    code: issue.code,
    ...(issue.missing === undefined ? {} : { missing: issue.missing }),
  };
}

/** Tells the user: a red `!!` line on stderr, and with `json` also a JSON line on stdout. */
export function printStreamIssue(issue: StreamIssue, json: boolean): void {
  process.stderr.write(`\u001b[31m!! ${oneLine(issue.message)}\u001b[0m\n`);
  if (json) process.stdout.write(`${terminalJson(streamIssueJson(issue))}\n`);
}
