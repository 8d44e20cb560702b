import type { Config, VcenterConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { VsphereApi } from '../vsphere/api.ts';
import { createClientFromConfig } from '../vsphere/client.ts';
import { FactGatherer, type GatherOptions } from '../remediation/gather.ts';
import { errorMessage, VmlockError } from '../errors.ts';
import { health } from '../ops/health.ts';
import type { TaskCompletionFeed } from '../vsphere/task-waiter.ts';

export type ClientFactory = (vc: VcenterConfig, logger: Logger) => VsphereApi;

export interface VcenterHandle {
  api: VsphereApi;
  gatherer: FactGatherer;
}

/**
 * One logged-in client and one fact gatherer per vCenter, shared by every
 * incident the process works on (so their reads batch together and task waits
 * share one collector). Connected on first use; a failed connect is retried by
 * the next incident.
 */
export class VcenterPool {
  readonly #handles = new Map<string, Promise<VcenterHandle>>();
  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly factory: ClientFactory = (vc, log) => createClientFromConfig(vc, log),
    private readonly gatherOptions: GatherOptions = {},
    /** The task completion feed of a vCenter shared with the other worker processes, if any. */
    private readonly taskFeed?: (vcenter: string) => TaskCompletionFeed,
  ) {}

  get(name: string): Promise<VcenterHandle> {
    const existing = this.#handles.get(name);
    if (existing) return existing;
    const vc = this.config.vcenters.find((v) => v.name === name);
    if (!vc) return Promise.reject(new VmlockError('VMLOCK_ERR_CONFIG', `vCenter "${name}" is not in the configuration`));
    const handle = (async () => {
      const api = this.factory(vc, this.logger.child({ vcenter: name }));
      try {
        await api.connect();
      } catch (err) {
        await api.close().catch(() => undefined);
        throw err;
      }
      if (this.taskFeed && api.shareTaskCompletions) api.shareTaskCompletions(this.taskFeed(name));
      health.report(`vcenter:${name}`, true, 'connected');
      return { api, gatherer: new FactGatherer(api, this.logger.child({ vcenter: name }), this.gatherOptions) };
    })();
    this.#handles.set(name, handle);
    handle.catch((err: unknown) => {
      health.report(`vcenter:${name}`, false, 'cannot connect', errorMessage(err));
      if (this.#handles.get(name) === handle) this.#handles.delete(name);
    });
    return handle;
  }

  async close(): Promise<void> {
    const all = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.all(all.map((h) => h.then((x) => x.api.close()).catch(() => undefined)));
  }
}
