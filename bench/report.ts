import type { Bench } from 'tinybench';

/** One measured operation: median latency and the rate it implies. */
export interface Measurement {
  readonly name: string;
  readonly medianMs: number;
  readonly opsPerSecond: number;
  readonly samples: number;
}

/** Reads the median of each finished task, failing loudly if a task errored. */
export function measurements(bench: Bench): Map<string, Measurement> {
  const out = new Map<string, Measurement>();
  for (const task of bench.tasks) {
    const result = task.result;
    if (result.state !== 'completed')
      throw new Error(`benchmark task ${task.name} ended ${result.state}`);
    const medianMs = result.latency.p50;
    out.set(task.name, {
      name: task.name,
      medianMs,
      opsPerSecond: 1000 / medianMs,
      samples: result.latency.samplesCount,
    });
  }
  return out;
}

/** Prints measurements as an aligned table. */
export function printTable(title: string, rows: Iterable<Measurement>): void {
  console.log(`\n${title}`);
  console.log(
    `${'operation'.padEnd(44)}${'median'.padStart(12)}${'ops/s'.padStart(10)}${'samples'.padStart(9)}`,
  );
  for (const row of rows) {
    console.log(
      `${row.name.padEnd(44)}${`${row.medianMs.toFixed(3)} ms`.padStart(12)}${row.opsPerSecond.toFixed(0).padStart(10)}${String(row.samples).padStart(9)}`,
    );
  }
}

/** Prints a ratio against its target, so each run says plainly whether the target holds. */
export function printRatio(label: string, ratio: number, target: string, met: boolean): void {
  console.log(
    `${label.padEnd(56)}${ratio.toFixed(2).padStart(7)}x  target ${target}: ${met ? 'met' : 'NOT MET'}`,
  );
}
