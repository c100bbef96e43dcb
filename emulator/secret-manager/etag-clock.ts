/**
 * Etags shaped like Google's (`"1665a5f0e2b4c"`: quoted hex of a microsecond clock, AIP-154
 * quotes included), strictly increasing so two changes in the same millisecond still differ.
 */
export class EtagClock {
  private lastMicros = 0n;

  constructor(private readonly now: () => Date) {}

  next(): string {
    const micros = BigInt(this.now().getTime()) * 1000n;
    this.lastMicros = micros > this.lastMicros ? micros : this.lastMicros + 1n;
    return `"${this.lastMicros.toString(16)}"`;
  }
}
