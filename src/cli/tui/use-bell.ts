import { useStdout } from 'ink';
import { useEffect, useRef } from 'react';

/** A burst of messages within this long rings once. */
const BELL_GAP_MS = 1_500;

/** Rings the terminal bell when `arrivals` grows, if the bell is on; a burst rings once. */
export function useBell(arrivals: number, enabled: boolean): void {
  const { stdout } = useStdout();
  const last = useRef(arrivals);
  const rang = useRef(0);
  useEffect(() => {
    const now = Date.now();
    if (arrivals > last.current && enabled && now - rang.current >= BELL_GAP_MS) {
      stdout.write('\u0007');
      rang.current = now;
    }
    last.current = arrivals;
  }, [arrivals, enabled, stdout]);
}
