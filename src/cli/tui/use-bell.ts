import { useStdout } from 'ink';
import { useEffect, useRef } from 'react';

/** Rings the terminal bell once when `arrivals` grows, if the bell is on. */
export function useBell(arrivals: number, enabled: boolean): void {
  const { stdout } = useStdout();
  const last = useRef(arrivals);
  useEffect(() => {
    if (arrivals > last.current && enabled) stdout.write('\u0007');
    last.current = arrivals;
  }, [arrivals, enabled, stdout]);
}
