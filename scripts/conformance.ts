// Runs the relay conformance list of docs/protocol.md section 15 against a relay:
//   npm run conformance -- http://127.0.0.1:7373 [--only id,id,...]
// It registers throwaway users (7 registrations, counted by the relay's per-address limit), prints
// pass/fail per behaviour, and exits 1 if any behaviour failed (2 on a usage error).
import { fileURLToPath } from 'node:url';
import { BEHAVIOURS, runConformance, type Outcome } from './conformance/run.js';

export { BEHAVIOURS, runConformance, type Outcome };

function line(outcome: Outcome): string {
  const mark = outcome.passed ? 'pass' : 'FAIL';
  const detail = outcome.passed ? '' : `\n       ${outcome.detail ?? ''}`;
  return `${mark}  ${outcome.id} (§${outcome.section}, ${outcome.ms} ms): ${outcome.says}${detail}`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [url, flag, list] = argv;
  const usage = 'usage: npm run conformance -- <relay url> [--only id,id,...]';
  if (
    url === undefined ||
    !/^https?:\/\/\S+$/.test(url) ||
    (flag !== undefined && (flag !== '--only' || !list))
  ) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const only = list?.split(',').filter(Boolean);
  let outcomes: Outcome[];
  try {
    outcomes = await runConformance(url, {
      ...(only ? { only } : {}),
      onOutcome: (outcome) => process.stdout.write(`${line(outcome)}\n`),
    });
  } catch (error) {
    process.stderr.write(
      `conformance: ${error instanceof Error ? error.message : String(error)}\n${usage}\n`,
    );
    return 2;
  }
  const failed = outcomes.filter((o) => !o.passed).length;
  process.stdout.write(`${outcomes.length - failed} of ${outcomes.length} behaviours pass\n`);
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`conformance: ${String(error)}\n`);
      process.exit(2);
    },
  );
}
