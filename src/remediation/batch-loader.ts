/**
 * Coalesces single-key loads into batch calls: concurrent incidents of one
 * vCenter share one RetrievePropertiesEx or QueryCryptoKeyStatus. Loads made
 * within `windowMs` form a batch, and while a batch is in flight the next one
 * only collects, so under load batches grow by themselves (at most one call in
 * flight per loader). When loads start after a quiet spell (no call for
 * `windowMs`), batches wait only `firstWindowMs` for one window: the first
 * incidents of a storm go out at once, in batches that grow with each call,
 * instead of a whole window late. A failed batch rejects every load in it.
 */
export class BatchLoader<K, V> {
  #pending = new Map<string, { key: K; waiters: { resolve: (v: V) => void; reject: (e: unknown) => void }[] }>();
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;
  #lastFlushAt = -Infinity;
  /** Until then batches wait firstWindowMs (set when loads start after a quiet spell). */
  #quickUntil = -Infinity;

  constructor(
    private readonly load: (keys: K[]) => Promise<Map<string, V>>,
    private readonly idOf: (key: K) => string,
    private readonly opts: { windowMs: number; firstWindowMs?: number; maxBatch: number; missing: (key: K) => V },
  ) {}

  get(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const id = this.idOf(key);
      const entry = this.#pending.get(id);
      if (entry) entry.waiters.push({ resolve, reject });
      else this.#pending.set(id, { key, waiters: [{ resolve, reject }] });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#inFlight || this.#pending.size === 0) return;
    if (this.#pending.size >= this.opts.maxBatch) this.#flush();
    else if (!this.#timer) {
      const now = Date.now();
      if (now - this.#lastFlushAt >= this.opts.windowMs) this.#quickUntil = now + this.opts.windowMs;
      this.#timer = setTimeout(() => this.#flush(), now < this.#quickUntil ? (this.opts.firstWindowMs ?? this.opts.windowMs) : this.opts.windowMs);
    }
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#inFlight) return;
    const batch = new Map<string, { key: K; waiters: { resolve: (v: V) => void; reject: (e: unknown) => void }[] }>();
    for (const [id, e] of this.#pending) {
      if (batch.size >= this.opts.maxBatch) break;
      batch.set(id, e);
    }
    for (const id of batch.keys()) this.#pending.delete(id);
    if (batch.size === 0) return;
    this.#inFlight = true;
    this.#lastFlushAt = Date.now();
    const keys = [...batch.values()].map((e) => e.key);
    let call: Promise<Map<string, V>>;
    try {
      call = this.load(keys);
    } catch (err) {
      call = Promise.reject(err);
    }
    call
      .then(
        (result) => {
          for (const [id, e] of batch) {
            const v = result.has(id) ? (result.get(id) as V) : this.opts.missing(e.key);
            for (const w of e.waiters) w.resolve(v);
          }
        },
        (err: unknown) => {
          for (const e of batch.values()) for (const w of e.waiters) w.reject(err);
        },
      )
      .finally(() => {
        this.#inFlight = false;
        this.#schedule();
      });
  }
}

/** Short-lived facts (KMS health, privileges, host state) shared for a few seconds; concurrent misses share one load. */
export class TtlCache<V> {
  #entries = new Map<string, { at: number; value: Promise<V> }>();
  constructor(private readonly ttlMs: number) {}

  get(id: string, load: () => Promise<V>): Promise<V> {
    const now = Date.now();
    const hit = this.#entries.get(id);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    const value = load();
    this.#entries.set(id, { at: now, value });
    // A failed load is not cached.
    value.catch(() => {
      if (this.#entries.get(id)?.value === value) this.#entries.delete(id);
    });
    return value;
  }

  delete(id: string): void {
    this.#entries.delete(id);
  }
}
