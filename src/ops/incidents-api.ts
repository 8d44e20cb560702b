import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { CLOSED_STATES, OPEN_STATES, incidentIdPattern, type IncidentState } from '../incidents/model.ts';
import type { IncidentStore } from '../incidents/store.ts';
import { approveIncident } from '../incidents/approval.ts';
import { VmlockError } from '../errors.ts';

/**
 * /api/incidents: the incident store over HTTP (JSON, with timelines) and
 * approval of incidents waiting in `awaiting-approval`.
 */
const STATES: readonly string[] = [...OPEN_STATES, ...CLOSED_STATES];

const listQuery = z
  .object({
    state: z
      .string()
      .refine((s) => STATES.includes(s), { message: `state must be one of ${STATES.join(', ')}` })
      .optional(),
    vcenter: z.string().max(40).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).default(1000),
    timeline: z.enum(['true', 'false']).default('true'),
  })
  .strict();

const approveBody = z
  .object({ by: z.string().trim().min(1, 'by must name the approver').max(100) })
  .strict();

function problems(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

function badRequest(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(400).send({ error: message, code: 'VMLOCK_ERR_USAGE' });
}

export function registerIncidentRoutes(app: FastifyInstance, store: IncidentStore, incidents: Queue | undefined): void {
  app.get('/api/incidents', async (req, reply) => {
    const q = listQuery.safeParse(req.query ?? {});
    if (!q.success) return badRequest(reply, `bad query: ${problems(q.error)}`);
    const list = await store.list({
      limit: q.data.limit,
      state: q.data.state as IncidentState | undefined,
      vcenter: q.data.vcenter,
      timeline: q.data.timeline === 'true',
    });
    return { count: list.length, incidents: list };
  });

  app.get<{ Params: { id: string } }>('/api/incidents/:id', async (req, reply) => {
    const { id } = req.params;
    if (!incidentIdPattern.test(id)) return badRequest(reply, `"${id.slice(0, 140)}" is not an incident id (<vcenter>.<vm>.<n>)`);
    const inc = await store.get(id);
    if (!inc) return reply.code(404).send({ error: `no incident ${id}`, code: 'VMLOCK_ERR_NOT_FOUND' });
    return inc;
  });

  app.post<{ Params: { id: string } }>('/api/incidents/:id/approve', async (req, reply) => {
    const { id } = req.params;
    if (!incidentIdPattern.test(id)) return badRequest(reply, `"${id.slice(0, 140)}" is not an incident id (<vcenter>.<vm>.<n>)`);
    const body = approveBody.safeParse(req.body ?? {});
    if (!body.success) return badRequest(reply, `bad body: ${problems(body.error)}; send {"by": "<who approves>"}`);
    if (!incidents) {
      return reply.code(503).send({ error: 'this process has no incidents queue; approve through a worker or poller', code: 'VMLOCK_ERR_SERVICE_UNAVAILABLE' });
    }
    try {
      const inc = await approveIncident(store, incidents, id, body.data.by);
      req.log.info({ incidentId: id, by: body.data.by }, 'incident approved over HTTP');
      return inc;
    } catch (err) {
      if (err instanceof VmlockError && err.code === 'VMLOCK_ERR_NOT_FOUND') return reply.code(404).send({ error: err.message, code: err.code });
      if (err instanceof VmlockError && err.code === 'VMLOCK_ERR_USAGE') return reply.code(409).send({ error: err.message, code: err.code });
      throw err;
    }
  });
}
