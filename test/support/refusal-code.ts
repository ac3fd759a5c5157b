import { RelayRefusedError } from '../../src/cli/relay/relay-client.js';

/**
 * The relay's refusal code for a request (`answered` when it was answered), so a test can compare
 * many outcomes at once; anything but a refusal is rethrown.
 */
export async function refusalCode(run: () => Promise<unknown>, answered = 'ok'): Promise<string> {
  try {
    await run();
    return answered;
  } catch (error) {
    if (error instanceof RelayRefusedError) return error.code;
    throw error;
  }
}
