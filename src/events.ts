/**
 * The relay's event stream (GET /api/v1/events): configuration changes,
 * interface events, worker restarts, health transitions and periodic stats,
 * published by whoever sees them and read by any number of subscribers.
 *
 * publish() never waits: each subscriber has a bounded queue; one that falls
 * `limit` events behind (a client that stopped reading) is dropped, so a slow
 * subscriber can delay neither the relay nor the other subscribers.
 */
export interface RelayEvent {
  id: number;
  type: string;
  data: Record<string, unknown>;
}

export class Subscription {
  readonly #queue: RelayEvent[] = [];
  #wake: ((e: RelayEvent | null) => void) | null = null;
  closed = false;
  constructor(readonly limit: number, private readonly onClose: (s: Subscription) => void) {}

  /** Queues an event; false (and the subscription closed) when it is `limit` behind. */
  push(e: RelayEvent): boolean {
    if (this.closed) return false;
    if (this.#wake) {
      const wake = this.#wake;
      this.#wake = null;
      wake(e);
      return true;
    }
    if (this.#queue.length >= this.limit) {
      this.close();
      return false;
    }
    this.#queue.push(e);
    return true;
  }

  /** The next event, or null once closed. */
  next(): Promise<RelayEvent | null> {
    const e = this.#queue.shift();
    if (e) return Promise.resolve(e);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#wake = resolve);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#queue.length = 0;
    this.#wake?.(null);
    this.#wake = null;
    this.onClose(this);
  }
}

export class EventBus {
  readonly #subscribers = new Set<Subscription>();
  #id = 0;
  /** Subscribers dropped for falling behind. */
  dropped = 0;

  publish(type: string, data: Record<string, unknown>): void {
    const e = { id: ++this.#id, type, data };
    for (const s of [...this.#subscribers]) if (!s.push(e)) this.dropped++;
  }

  subscribe(limit = 256): Subscription {
    const s = new Subscription(limit, (x) => this.#subscribers.delete(x));
    this.#subscribers.add(s);
    return s;
  }

  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Ends every subscription (their streams end): for a shutdown that must not wait on them. */
  closeAll(): void {
    for (const s of [...this.#subscribers]) s.close();
  }
}
