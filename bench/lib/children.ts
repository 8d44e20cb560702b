import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The child processes of one bench run. Every child is registered here the
 * moment it is spawned, so stopAll() (on success, error, Ctrl-C or exit) stops
 * each one by its own pid. Output goes straight to a log file per child: no
 * pipes the bench would have to drain while it measures.
 */

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly proc: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  readonly hasExited: () => boolean;
  /** 'running', the exit code, or the signal that ended it. */
  readonly status: () => number | string;
}

export interface StartOptions {
  name: string;
  command: string;
  args: readonly string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Open an IPC channel (for the bench's own helper processes). */
  ipc?: boolean;
}

export class ChildSet {
  readonly #children: Child[] = [];
  /** Children stopped on purpose: their exit is not a crash. */
  readonly #stopped = new Set<Child>();
  readonly #logDir: string;

  constructor(logDir: string) {
    this.#logDir = logDir;
  }

  get children(): readonly Child[] {
    return this.#children;
  }

  start(opts: StartOptions): Child {
    const logFile = join(this.#logDir, `${opts.name}.log`);
    const fd = openSync(logFile, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn(opts.command, [...opts.args], {
        cwd: opts.cwd,
        env: { ...process.env, ...opts.env },
        stdio: opts.ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    if (proc.pid === undefined) throw new Error(`could not start ${opts.name} (${opts.command})`);
    let done = false;
    let status: number | string = 'running';
    const exited = new Promise<number | string>((resolve) => {
      proc.once('exit', (code, signal) => {
        done = true;
        status = code ?? signal ?? 'unknown';
        resolve(status);
      });
      proc.once('error', () => {
        done = true;
        status = 'spawn error';
        resolve(status);
      });
    });
    const child: Child = { name: opts.name, pid: proc.pid, logFile, proc, exited, hasExited: () => done, status: () => status };
    this.#children.push(child);
    return child;
  }

  /** Throws naming the first child that has exited (a crashed component), with the end of its log. */
  assertAlive(): void {
    for (const c of this.#children) {
      if (c.hasExited() && !this.#stopped.has(c)) throw new Error(`${c.name} (pid ${c.pid}) exited early (${c.status()}); log ${c.logFile}, last lines:\n${tail(c.logFile, 15) || '    (empty)'}`);
    }
  }

  /** SIGTERM, then SIGKILL after graceMs, for one child. */
  async stop(child: Child, graceMs = 8000): Promise<void> {
    this.#stopped.add(child);
    if (child.hasExited()) return;
    child.proc.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!child.hasExited()) child.proc.kill('SIGKILL');
    }, graceMs);
    await child.exited;
    clearTimeout(timer);
  }

  /** Stops every child still running, all at once, each by its pid. */
  async stopAll(graceMs = 8000): Promise<void> {
    await Promise.all(this.#children.map((c) => this.stop(c, graceMs)));
  }

  /** Last resort from a synchronous 'exit' handler. */
  killAllNow(): void {
    for (const c of this.#children) if (!c.hasExited()) c.proc.kill('SIGKILL');
  }
}

/** The last n lines of a log file ('' when it cannot be read). */
export function tail(file: string, n: number): string {
  try {
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    return lines.slice(-n).map((l) => '    ' + l.slice(0, 400)).join('\n');
  } catch {
    return '';
  }
}
