/**
 * One-way latency samples (nanoseconds) and their percentiles, for `mcr
 * sink`. Samples go into a growing Float64Array (no object per datagram);
 * percentiles are read once, at the end, by sorting.
 */

export interface LatencySummary {
  /** Datagrams with a usable send and receive time. */
  count: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
}

export class LatencyRecorder {
  #samples = new Float64Array(1 << 16);
  #count = 0;

  add(ns: number): void {
    if (this.#count === this.#samples.length) {
      const grown = new Float64Array(this.#samples.length * 2);
      grown.set(this.#samples);
      this.#samples = grown;
    }
    this.#samples[this.#count++] = ns;
  }

  get count(): number {
    return this.#count;
  }

  /** Percentiles (nearest rank) in microseconds, rounded to 0.1 µs; null without samples. */
  summary(): LatencySummary | null {
    if (this.#count === 0) return null;
    const sorted = this.#samples.slice(0, this.#count).sort();
    const at = (q: number) =>
      Math.round(sorted[Math.min(this.#count - 1, Math.ceil(q * this.#count) - 1)] / 100) / 10;
    return {
      count: this.#count,
      p50_us: at(0.5),
      p90_us: at(0.9),
      p99_us: at(0.99),
      p999_us: at(0.999),
      max_us: Math.round(sorted[this.#count - 1] / 100) / 10,
    };
  }
}
