import { CLOSED_STATES, OPEN_STATES } from '../incidents/model.ts';

/**
 * The live view while the demo runs: incidents by state, one line. On a TTY
 * the line is rewritten in place; otherwise a plain line is printed whenever
 * the counts change (and at most every `plainEveryMs` while nothing changes).
 */
export interface ProgressSnapshot {
  elapsedMs: number;
  byState: Record<string, number>;
  expected: number;
  notifications: number;
}

const ORDER: readonly string[] = [...OPEN_STATES, ...CLOSED_STATES];

export function progressLine(s: ProgressSnapshot): string {
  const closed = CLOSED_STATES.reduce((n, st) => n + (s.byState[st] ?? 0), 0);
  const parts = ORDER.filter((st) => s.byState[st]).map((st) => `${st} ${s.byState[st]}`);
  const states = parts.length ? parts.join(' | ') : 'waiting for the poller';
  // A KMS wait looks like a hang in the demo (15 s): say what it waits for.
  const hint = s.byState['waiting-kms'] ? ' (waiting-kms: the key provider is unreachable; retried until policy.kmsWaitTimeout, then escalated)' : '';
  return `[${(s.elapsedMs / 1000).toFixed(0).padStart(4)}s] ${closed}/${s.expected} done: ${states}; notifications ${s.notifications}${hint}`;
}

export class ProgressView {
  #last = '';
  #lastPrintedAt = 0;
  #drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly plainEveryMs = 10_000,
  ) {}

  get isTty(): boolean {
    return Boolean(this.out.isTTY);
  }

  update(s: ProgressSnapshot): void {
    const line = progressLine(s);
    const key = line.replace(/^\[[^\]]*\]\s*/, '');
    if (this.isTty) {
      const width = this.out.columns ? this.out.columns - 1 : 200;
      this.out.write(`\r\x1b[K${line.slice(0, width)}`);
      this.#drawn = true;
      return;
    }
    const now = Date.now();
    if (key !== this.#last || now - this.#lastPrintedAt >= this.plainEveryMs) {
      this.out.write(`${line}\n`);
      this.#last = key;
      this.#lastPrintedAt = now;
    }
  }

  /** A message above the live line (or a plain line). */
  note(text: string): void {
    if (this.isTty && this.#drawn) this.out.write('\r\x1b[K');
    this.out.write(`${text}\n`);
  }

  /** Leaves the last live line on screen and moves below it. */
  finish(): void {
    if (this.isTty && this.#drawn) this.out.write('\n');
    this.#drawn = false;
  }
}
