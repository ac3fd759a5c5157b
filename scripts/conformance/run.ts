import { ACCOUNT_BEHAVIOURS } from './account-behaviours.js';
import { DELETION_BEHAVIOURS } from './deletion-behaviours.js';
import { setUp, tearDown, type Behaviour } from './fixtures.js';
import { SEND_BEHAVIOURS } from './send-behaviours.js';
import { SESSION_BEHAVIOURS } from './session-behaviours.js';
import { STREAM_BEHAVIOURS } from './stream-behaviours.js';
import { TRANSPORT_BEHAVIOURS } from './transport-behaviours.js';

/** Longest one behaviour may take before it counts as failed. */
const BEHAVIOUR_TIMEOUT_MS = 30_000;

/** Every behaviour a relay must show (docs/protocol.md section 15), in the order they run. */
export const BEHAVIOURS: readonly Behaviour[] = [
  ...TRANSPORT_BEHAVIOURS,
  ...ACCOUNT_BEHAVIOURS,
  ...SESSION_BEHAVIOURS,
  ...SEND_BEHAVIOURS,
  ...STREAM_BEHAVIOURS,
  ...DELETION_BEHAVIOURS,
];

/** The outcome of one behaviour. */
export interface Outcome {
  readonly id: string;
  readonly section: string;
  readonly says: string;
  readonly passed: boolean;
  /** What the relay did instead, when it failed. */
  readonly detail?: string;
  readonly ms: number;
}

/** Options of a run. */
export interface ConformanceOptions {
  /** Run only these behaviour ids (default: all). */
  readonly only?: readonly string[];
  /** Told about each outcome as soon as it is known. */
  readonly onOutcome?: (outcome: Outcome) => void;
}

async function within<T>(ms: number, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`took longer than ${ms} ms`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the conformance list against the relay at `url`: registers throwaway users, then checks each
 * behaviour in order. Resolves with one outcome per behaviour; it never throws for a relay's fault.
 */
export async function runConformance(
  url: string,
  options: ConformanceOptions = {},
): Promise<Outcome[]> {
  const unknown = (options.only ?? []).filter((id) => !BEHAVIOURS.some((b) => b.id === id));
  if (unknown.length > 0) throw new Error(`unknown behaviour(s): ${unknown.join(', ')}`);
  const chosen = BEHAVIOURS.filter(
    (b) => options.only === undefined || options.only.includes(b.id),
  );
  const outcomes: Outcome[] = [];
  const record = (outcome: Outcome) => {
    outcomes.push(outcome);
    options.onOutcome?.(outcome);
  };
  let fixture;
  try {
    fixture = await within(BEHAVIOUR_TIMEOUT_MS, () => setUp(url));
  } catch (error) {
    const detail = `setting up (register and authenticate two users) failed: ${describe(error)}`;
    for (const b of chosen) record({ ...summary(b), passed: false, detail, ms: 0 });
    return outcomes;
  }
  try {
    for (const behaviour of chosen) {
      const started = Date.now();
      try {
        await within(BEHAVIOUR_TIMEOUT_MS, () => behaviour.run(fixture));
        record({ ...summary(behaviour), passed: true, ms: Date.now() - started });
      } catch (error) {
        record({
          ...summary(behaviour),
          passed: false,
          detail: describe(error),
          ms: Date.now() - started,
        });
      }
    }
  } finally {
    tearDown(fixture);
  }
  return outcomes;
}

function summary(b: Behaviour) {
  return { id: b.id, section: b.section, says: b.says };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
