/**
 * In-process health of the things a process depends on (Redis, RabbitMQ, each
 * vCenter). Components report; /readyz and /healthz read. No I/O here.
 */
export interface ComponentHealth {
  ok: boolean;
  /** Short state, e.g. "watching", "reconnecting", "leased by other replica". */
  state: string;
  detail?: string;
  lastSuccess?: string;
  updatedAt: string;
}

export class HealthRegistry {
  readonly #components = new Map<string, ComponentHealth>();

  report(name: string, ok: boolean, state: string, detail?: string): void {
    const now = new Date().toISOString();
    const prev = this.#components.get(name);
    const entry: ComponentHealth = { ok, state, updatedAt: now };
    if (detail !== undefined) entry.detail = detail;
    const lastSuccess = ok ? now : prev?.lastSuccess;
    if (lastSuccess !== undefined) entry.lastSuccess = lastSuccess;
    this.#components.set(name, entry);
  }

  snapshot(): Record<string, ComponentHealth> {
    return Object.fromEntries(this.#components);
  }

  get ready(): boolean {
    for (const c of this.#components.values()) if (!c.ok) return false;
    return true;
  }
}

/** The process-wide registry. */
export const health = new HealthRegistry();
