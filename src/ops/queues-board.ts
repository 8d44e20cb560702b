import type { FastifyInstance } from 'fastify';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';

/**
 * The bull-board UI and its API for the given queues, under basePath (e.g.
 * /queues). Read-only: incident jobs carry remediation progress, so editing,
 * adding, emptying or obliterating them from a web page could bypass the
 * worker's safety checks; use the vmlock CLI to act on incidents.
 */
export async function registerQueuesBoard(app: FastifyInstance, queues: readonly Queue[], basePath = '/queues'): Promise<void> {
  const adapter = new FastifyAdapter();
  adapter.setBasePath(basePath);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
    // @bull-board/fastify pins its own copy of @bull-board/api; the classes are
    // the same at run time, only the private-field typings differ.
    serverAdapter: adapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: 'vmlock queues' } },
  });
  await app.register(adapter.registerPlugin(), { prefix: basePath });
}
