import type { Queue } from 'bullmq';
import type { IncidentStore } from './store.ts';
import type { Incident } from './model.ts';

/**
 * Approves an incident that waits in `awaiting-approval`: records who approved
 * and wakes its job (the worker parks such jobs as delayed), so a worker picks
 * it up at once. Used by `vmlock approve` and POST /api/incidents/:id/approve.
 */
export async function approveIncident(store: IncidentStore, incidents: Queue, id: string, by: string): Promise<Incident> {
  const inc = await store.approve(id, by);
  const job = await incidents.getJob(id);
  if (job && (await job.isDelayed())) await job.promote();
  return inc;
}
