/**
 * Login sessions (the vmware_soap_session cookie) and the objects that live in
 * them: ContainerViews, private PropertyCollectors and their filters,
 * EventHistoryCollectors and RetrievePropertiesEx tokens. Session-scoped ids look
 * like vCenter's: `session[<session key>]<uuid>`. A session idle for longer than
 * the timeout is gone (NotAuthenticated), and so is everything in it.
 */
import { randomUUID } from 'node:crypto';
import { Collector } from './collector.ts';
import type { EventFilterSpec } from './events.ts';
import type { ObjectAccess, RetrieveSelection } from './selection.ts';

export interface ContainerViewState {
  id: string;
  container: string;
  types: string[];
  recursive: boolean;
}

export interface EventCollectorState {
  id: string;
  filter: EventFilterSpec;
  /** The cursor: key of the last event read (0 = rewound to the oldest). */
  lastKey: number;
  pageSize: number;
}

export class Session {
  readonly views = new Map<string, ContainerViewState>();
  readonly collectors = new Map<string, Collector>();
  readonly eventCollectors = new Map<string, EventCollectorState>();
  /** RetrievePropertiesEx continuation tokens: the selection and where the next page starts. */
  readonly tokens = new Map<string, { collector: string; selection: RetrieveSelection; offset: number; pageSize: number }>();
  lastActive = Date.now();
  callCount = 0;
  readonly loginTime = Date.now();

  constructor(
    readonly key: string,
    readonly userName: string,
    readonly ipAddress: string,
    readonly userAgent: string,
  ) {}

  newId(): string {
    return `session[${this.key}]${randomUUID()}`;
  }

  /** The session's own state of the shared `propertyCollector` (filters are per session). */
  collector(id: string, access: ObjectAccess): Collector | undefined {
    let c = this.collectors.get(id);
    if (!c && id === 'propertyCollector') {
      c = new Collector(id, access);
      this.collectors.set(id, c);
    }
    return c;
  }

  /** Ends waits and drops every session-scoped object. */
  close(): void {
    for (const c of this.collectors.values()) c.destroy();
    this.collectors.clear();
    this.views.clear();
    this.eventCollectors.clear();
    this.tokens.clear();
  }
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private idleTimeoutMs: number) {}

  create(userName: string, ipAddress: string, userAgent: string): Session {
    const s = new Session(randomUUID(), userName, ipAddress, userAgent);
    this.sessions.set(s.key, s);
    return s;
  }

  /** The live session for a cookie value, touching its idle clock; undefined when unknown or expired. */
  get(key: string | undefined): Session | undefined {
    if (!key) return undefined;
    const s = this.sessions.get(key);
    if (!s) return undefined;
    if (Date.now() - s.lastActive > this.idleTimeoutMs) {
      this.end(s);
      return undefined;
    }
    s.lastActive = Date.now();
    s.callCount++;
    return s;
  }

  /** Whether a session id is live, without touching it. */
  isActive(key: string): boolean {
    const s = this.sessions.get(key);
    return s !== undefined && Date.now() - s.lastActive <= this.idleTimeoutMs;
  }

  end(s: Session): void {
    this.sessions.delete(s.key);
    s.close();
  }

  /** Ends sessions idle beyond the timeout (not those blocked in WaitForUpdatesEx). */
  sweep(): number {
    let n = 0;
    for (const s of [...this.sessions.values()]) {
      if (Date.now() - s.lastActive <= this.idleTimeoutMs) continue;
      if ([...s.collectors.values()].some((c) => c.waiting)) continue;
      this.end(s);
      n++;
    }
    return n;
  }

  endAll(): void {
    for (const s of [...this.sessions.values()]) this.end(s);
  }

  all(): Session[] {
    return [...this.sessions.values()];
  }

  /** Sessions not idle beyond the timeout (expired ones are dropped at their next use). */
  get size(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (Date.now() - s.lastActive <= this.idleTimeoutMs) n++;
    return n;
  }

  /** The session that owns a session-scoped id. */
  ownerOf(id: string): Session | undefined {
    const m = /^session\[([^\]]+)\]/.exec(id);
    return m ? this.sessions.get(m[1] as string) : undefined;
  }
}
