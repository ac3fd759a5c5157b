/** A data file that cannot be loaded: the daemon refuses to start rather than serve a wrong store. */
export class StoreCorruptError extends Error {
  readonly code = 'STORE_CORRUPT';

  constructor(
    readonly path: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(
      `The data file ${path} cannot be loaded: ${reason}. Restore it from a backup or move it aside.`,
      options,
    );
    this.name = 'StoreCorruptError';
  }
}
