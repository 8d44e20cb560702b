import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Starts vmlock's processes (`node bin/vmlock.js <command> ...`) as separate
 * OS processes, each with its output in <logDir>/<name>.log, and stops them
 * all: SIGTERM, then SIGKILL for any still running after the grace period.
 */
export const VMLOCK_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/vmlock.js');

export interface ChildHandle {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly process: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once the group asked it to stop (an exit after that is expected). */
  stopping: boolean;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  /** Called with each complete stdout line (the line is also written to the log). */
  onStdoutLine?: (line: string) => void;
}

export class ProcessGroup {
  readonly logDir: string;
  readonly #children: ChildHandle[] = [];
  #onUnexpectedExit: ((child: ChildHandle, code: number | null, signal: NodeJS.Signals | null) => void) | undefined;

  constructor(logDir: string) {
    this.logDir = logDir;
  }

  get children(): readonly ChildHandle[] {
    return this.#children;
  }

  /** Called when a child ends before stopAll() asked it to. */
  onUnexpectedExit(listener: (child: ChildHandle, code: number | null, signal: NodeJS.Signals | null) => void): void {
    this.#onUnexpectedExit = listener;
  }

  spawnVmlock(name: string, args: readonly string[], opts: SpawnOptions = {}): ChildHandle {
    const logFile = join(this.logDir, `${name}.log`);
    const log: WriteStream = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
    const child = spawn(process.execPath, [VMLOCK_BIN, ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: a Ctrl-C in the terminal reaches only the demo, which then stops the children in order.
      detached: true,
    });
    if (child.pid === undefined) throw new Error(`could not start ${name}: ${process.execPath} ${VMLOCK_BIN}`);
    let pending = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        // `vmlock sim --json` prints its credentials for the demo to read; the log never keeps them.
        log.write(redactSecrets(line) + '\n');
        opts.onStdoutLine?.(line);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
      child.once('exit', (code, signal) => {
        if (pending) {
          log.write(redactSecrets(pending));
          opts.onStdoutLine?.(pending);
        }
        // Let piped output drain into the log before closing it.
        setImmediate(() => log.end());
        res({ code, signal });
      });
    });
    const handle: ChildHandle = { name, pid: child.pid, logFile, process: child, exited, stopping: false };
    void exited.then(({ code, signal }) => {
      if (!handle.stopping) this.#onUnexpectedExit?.(handle, code, signal);
    });
    this.#children.push(handle);
    return handle;
  }

  /** Stops every child: SIGTERM, then SIGKILL after graceMs. Safe to call twice. */
  async stopAll(graceMs = 10_000): Promise<void> {
    // Stop in reverse start order: producers of work before the simulator they talk to.
    const running = [...this.#children].reverse().filter((c) => c.process.exitCode === null && c.process.signalCode === null);
    for (const c of running) {
      c.stopping = true;
      signal(c, 'SIGTERM');
    }
    await Promise.all(
      running.map(async (c) => {
        const timer = setTimeout(() => signal(c, 'SIGKILL'), graceMs);
        try {
          await c.exited;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }

  /** Synchronous last resort (process 'exit' handler): SIGKILL whatever still runs. */
  killAllNow(): void {
    for (const c of this.#children) if (c.process.exitCode === null && c.process.signalCode === null) signal(c, 'SIGKILL');
  }
}

function signal(c: ChildHandle, sig: NodeJS.Signals): void {
  try {
    // The child leads its own process group (detached); signal the group so tsx's helpers stop too.
    process.kill(-c.pid, sig);
  } catch {
    try {
      c.process.kill(sig);
    } catch {
      // already gone
    }
  }
}

/** Blanks JSON "password"/"token" values in a line of child output. */
export function redactSecrets(line: string): string {
  return line.replace(/("(?:password|token)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, '$1"[redacted]"');
}

/** The last lines of a child's log, for error messages. */
export function tailOfLog(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A tiny line fan-out, so spawnVmlock's onStdoutLine can feed waitForJsonLine. */
export class LineFeed {
  readonly #subs = new Set<(line: string) => void>();
  push = (line: string): void => {
    for (const s of this.#subs) s(line);
  };
  subscribe(fn: (line: string) => void): () => void {
    this.#subs.add(fn);
    return () => this.#subs.delete(fn);
  }
}

/**
 * Waits for the first stdout line that parses as a JSON object accepted by
 * `pick`; fails when the child exits first or nothing comes within timeoutMs.
 */
export function waitForJsonLine<T>(
  child: ChildHandle,
  feed: LineFeed,
  pick: (value: Record<string, unknown>) => T | undefined,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      fn();
    };
    const timer = setTimeout(
      () => settle(() => reject(new Error(`${child.name} printed no start-up line within ${timeoutMs} ms; last lines of ${child.logFile}:\n${tailOfLog(child.logFile)}`))),
      timeoutMs,
    );
    void child.exited.then(({ code, signal: sig }) =>
      settle(() => reject(new Error(`${child.name} exited (${sig ?? `code ${code}`}) before it was ready; last lines of ${child.logFile}:\n${tailOfLog(child.logFile)}`))),
    );
    const unsubscribe = feed.subscribe((line) => {
      const text = line.trim();
      if (!text.startsWith('{')) return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return; // a log line or partial output
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
      const picked = pick(value as Record<string, unknown>);
      if (picked !== undefined) settle(() => resolvePromise(picked));
    });
  });
}
