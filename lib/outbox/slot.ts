/**
 * The rate-limit slot of the outbox's next request, taken before the request is planned: the request
 * takes everything that arrived while it waited for the bucket, and never waits in the limiter with a
 * plan a new card cannot join. A wait for the bucket ends at once when the outbox stops.
 */
import type { Bitrix24Client } from '../bitrix24/client.js';

export class RequestSlot {
  private abort: (() => void) | null = null;

  constructor(private readonly client: Pick<Bitrix24Client, 'takeSlot' | 'acquireSlot' | 'refundSlot'>) {}

  /** Resolves true once a slot is held (at once, or after `waiting(true)` … `waiting(false)`); false on a stop. */
  async take(waiting: (yes: boolean) => void): Promise<boolean> {
    if (this.client.takeSlot()) return true;
    waiting(true);
    const slot = this.client.acquireSlot();
    const got = await new Promise<boolean>((resolve) => {
      this.abort = () => resolve(false);
      void slot.then(() => resolve(true));
    });
    this.abort = null;
    waiting(false);
    if (!got) void slot.then(() => this.client.refundSlot()); // taken after the stop: given back
    return got;
  }

  /** The slot of a request that did not go, given back. */
  refund(): void {
    this.client.refundSlot();
  }

  /** The outbox stops: a wait for the bucket ends now. */
  cancel(): void {
    this.abort?.();
  }
}
