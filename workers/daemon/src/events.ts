// A job's events leave in the order the core printed them, yet the child's
// stdout is never held up by NATS: lines are queued at once and published with
// a bounded number of publishes in flight.

export interface OutgoingEvent {
  subject: string;
  payload: Record<string, unknown>;
  msgId: string;
}

/** Builds an event when its turn comes (a result first uploads its files), or null to skip it. */
export type PrepareEvent = () => Promise<OutgoingEvent | null> | OutgoingEvent | null;

export class EventQueue {
  private readonly queue: PrepareEvent[] = [];
  private readonly inFlight: Promise<void>[] = [];
  private draining: Promise<void> | null = null;

  constructor(
    private readonly send: (event: OutgoingEvent) => Promise<void>,
    private readonly onError: (err: Error, event: OutgoingEvent | null) => void,
    private readonly window = 32,
  ) {}

  /** Never waits: the read loop calls this once per line. */
  push(prepare: PrepareEvent): void {
    this.queue.push(prepare);
    this.kick();
  }

  /** Resolves once everything pushed so far has been published (or given up on). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
    await Promise.all(this.inFlight.splice(0));
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      // A push that landed between the loop's last check and here would otherwise wait forever.
      if (this.queue.length) this.kick();
    });
  }

  private async drain(): Promise<void> {
    for (let prepare = this.queue.shift(); prepare; prepare = this.queue.shift()) {
      let event: OutgoingEvent | null;
      try {
        event = await prepare();
      } catch (err) {
        this.onError(err as Error, null);
        continue;
      }
      if (!event) continue;
      const sending = event;
      // Publishes are issued in order on one connection, so the server stores them in order.
      this.inFlight.push(this.send(sending).catch((err: Error) => this.onError(err, sending)));
      if (this.inFlight.length >= this.window) await this.inFlight.shift();
    }
  }
}
