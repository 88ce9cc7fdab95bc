/**
 * Writes (or reads) that concurrent callers would each send to storage, sent together: a group commit.
 * A call made while storage is idle goes out in the same turn of the event loop (`setImmediate`:
 * with the calls of the requests read in that turn's I/O); calls made while a batch is in flight
 * wait for it and go out together as the next batch. So a lone caller waits one round trip, as
 * without batching, and under load N callers share one round trip instead of making N. Every
 * caller's promise settles with its own result, or with the batch's failure; nothing is answered
 * before storage has answered.
 */
export class GroupCommit<Item, Result> {
  #queued: { item: Item; resolve: (result: Result) => void; reject: (error: unknown) => void }[] = [];
  #inFlight = false;
  #scheduled = false;

  /**
   * @param send - sends one batch and returns one result per item, in the items' order.
   * @param maxBatch - most items in one batch; the rest go in the next.
   */
  constructor(
    private readonly send: (items: Item[]) => Promise<Result[]>,
    private readonly maxBatch = 1000,
  ) {}

  /** Queues the item; settles once the batch carrying it has been answered. */
  submit(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.#queued.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#inFlight || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#inFlight || this.#queued.length === 0) return;
    this.#inFlight = true;
    const batch = this.#queued.splice(0, this.maxBatch);
    try {
      const results = await this.send(batch.map((entry) => entry.item));
      batch.forEach((entry, index) => entry.resolve(results[index] as Result));
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    } finally {
      this.#inFlight = false;
      this.#schedule();
    }
  }
}
