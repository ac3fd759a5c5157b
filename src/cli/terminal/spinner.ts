import yoctoSpinner from 'yocto-spinner';

/**
 * Runs a slow step (key generation, the password KDF) behind a spinner on stderr, so the user sees
 * that something is happening. Only on a terminal: scripts and --json get clean output.
 */
export async function withSpinner<T>(text: string, task: () => Promise<T>): Promise<T> {
  if (!process.stderr.isTTY) return task();
  const spinner = yoctoSpinner({ text, stream: process.stderr }).start();
  try {
    const result = await task();
    spinner.success(text);
    return result;
  } catch (error) {
    spinner.error(text);
    throw error;
  }
}
