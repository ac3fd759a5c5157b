/** Why a connection was refused or closed by a connection limit; logged, never sent as text. */
export type ConnectionRefusal = 'TOO_MANY_CONNECTIONS' | 'TOO_MANY_CONNECTIONS_FROM_ADDRESS';

/**
 * Counts open connections in total and per client address, so idle connections cannot take every
 * file descriptor and byte of memory: a connection past either cap is refused at its handshake.
 */
export class ConnectionGate {
  private readonly perAddress = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerAddress: number,
  ) {}

  /** Why a new connection from `address` would be refused now, or undefined when it may open. */
  refusal(address: string): ConnectionRefusal | undefined {
    if (this.total >= this.maxTotal) return 'TOO_MANY_CONNECTIONS';
    if ((this.perAddress.get(address) ?? 0) >= this.maxPerAddress)
      return 'TOO_MANY_CONNECTIONS_FROM_ADDRESS';
    return undefined;
  }

  /** Counts an opened connection; returns the refusal instead (and counts nothing) when over a cap. */
  open(address: string): ConnectionRefusal | undefined {
    const refusal = this.refusal(address);
    if (refusal !== undefined) return refusal;
    this.total++;
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    return undefined;
  }

  /** Releases a connection counted by `open`. */
  close(address: string): void {
    const count = this.perAddress.get(address) ?? 0;
    if (count <= 1) this.perAddress.delete(address);
    else this.perAddress.set(address, count - 1);
    this.total = Math.max(0, this.total - 1);
  }

  /** Open connections counted. */
  get size(): number {
    return this.total;
  }
}
