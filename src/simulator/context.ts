/** What every simulated method can reach: the world, tasks, sessions, users and options. */
import type { Logger } from '../log.ts';
import type { SessionStore } from './sessions.ts';
import type { TaskManager } from './tasks.ts';
import type { Users } from './users.ts';
import type { World } from './world.ts';

export interface CallStats {
  calls: Record<string, number>;
  callsTotal: number;
}

export interface FaultRule {
  method: string;
  fault?: string;
  delayMs?: number;
  remaining: number;
}

export interface SimContext {
  world: World;
  tasks: TaskManager;
  sessions: SessionStore;
  users: Users;
  stats: CallStats;
  faultRules: FaultRule[];
  instanceUuid: string;
  logger: Logger;
}
