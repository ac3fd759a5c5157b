import {
  KDF_DEFAULT_ITERATIONS,
  KDF_MAX_ITERATIONS,
  KDF_MIN_ITERATIONS,
} from '../../core/index.js';
import { UsageError } from '../cli-errors.js';

/**
 * The PBKDF2 iterations this client wraps with (register, passwd, the upgrade at login): the
 * protocol's default, or more from METACHAT_KDF_ITERATIONS, so the cost can be raised over time.
 */
export function kdfTargetIterations(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['METACHAT_KDF_ITERATIONS'];
  if (raw === undefined || raw === '') return KDF_DEFAULT_ITERATIONS;
  const value = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(
    value >= Math.max(KDF_MIN_ITERATIONS, KDF_DEFAULT_ITERATIONS) && value <= KDF_MAX_ITERATIONS
  ))
    throw new UsageError(
      `METACHAT_KDF_ITERATIONS must be a whole number from ${KDF_DEFAULT_ITERATIONS} to ${KDF_MAX_ITERATIONS}.`,
    );
  return value;
}
