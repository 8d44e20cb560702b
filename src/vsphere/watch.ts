import { RequestCanceled } from './faults.ts';
import type { MoRef, ObjectUpdate } from './types.ts';
import type { Logger } from '../log.ts';

export interface WatchOps {
  readonly rootFolder: MoRef;
  CreateContainerView(container: MoRef, types: readonly string[], recursive: boolean): Promise<MoRef>;
  DestroyView(view: MoRef): Promise<void>;
  CreatePropertyCollector(): Promise<MoRef>;
  DestroyPropertyCollector(collector: MoRef): Promise<void>;
  createViewFilter(collector: MoRef, view: MoRef, type: string, paths: readonly string[]): Promise<MoRef>;
  createObjectFilter(collector: MoRef, obj: MoRef, paths: readonly string[]): Promise<MoRef>;
  DestroyPropertyFilter(filter: MoRef): Promise<void>;
  waitForUpdates(collector: MoRef, version: string, maxWaitSeconds: number, maxObjectUpdates?: number): Promise<{ version: string; truncated: boolean; updates: ObjectUpdate[] } | null>;
  CancelWaitForUpdates(collector: MoRef): Promise<void>;
}

export interface WatchSpec {
  type: string;
  paths: readonly string[];
  alsoWatch?: readonly { obj: MoRef; paths: readonly string[] }[];
}

/**
 * One watch: ContainerView + private PropertyCollector + filter(s), then a
 * WaitForUpdatesEx loop carrying the version (a truncated result's version is
 * passed back at once). Aborting the signal calls CancelWaitForUpdates; the
 * filter, collector and view are destroyed in finally, and a cleanup error
 * never replaces the error that ended the watch.
 */
export async function watchObjects(
  ops: WatchOps,
  spec: WatchSpec,
  onUpdate: (updates: ObjectUpdate[], meta: { initial: boolean; version: string }) => void | Promise<void>,
  options: { signal: AbortSignal; maxWaitSeconds: number; maxObjectUpdates?: number },
  logger?: Logger,
): Promise<void> {
  const { signal } = options;
  if (signal.aborted) return;
  let view: MoRef | undefined;
  let collector: MoRef | undefined;
  const filters: MoRef[] = [];
  let firstError: unknown;
  const onAbort = (): void => {
    if (collector) ops.CancelWaitForUpdates(collector).catch(() => undefined);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    view = await ops.CreateContainerView(ops.rootFolder, [spec.type], true);
    collector = await ops.CreatePropertyCollector();
    filters.push(await ops.createViewFilter(collector, view, spec.type, spec.paths));
    for (const extra of spec.alsoWatch ?? []) filters.push(await ops.createObjectFilter(collector, extra.obj, extra.paths));
    let version = '';
    let initial = true;
    let pending: ObjectUpdate[] = [];
    while (!signal.aborted) {
      let result;
      try {
        result = await ops.waitForUpdates(collector, version, options.maxWaitSeconds, options.maxObjectUpdates);
      } catch (err) {
        if (signal.aborted && err instanceof RequestCanceled) break;
        throw err;
      }
      if (signal.aborted) break;
      if (!result) continue;
      version = result.version;
      // The initial state may come in several truncated pieces; deliver it as one batch.
      pending = pending.concat(result.updates);
      if (result.truncated && initial) continue;
      const batch = pending;
      pending = [];
      if (batch.length || initial) await onUpdate(batch, { initial, version });
      initial = false;
    }
  } catch (err) {
    firstError = err;
  } finally {
    signal.removeEventListener('abort', onAbort);
    const cleanup: Promise<void>[] = [];
    for (const f of filters) cleanup.push(ops.DestroyPropertyFilter(f));
    const results = await Promise.allSettled(cleanup);
    const more = await Promise.allSettled([collector ? ops.DestroyPropertyCollector(collector) : Promise.resolve(), view ? ops.DestroyView(view) : Promise.resolve()]);
    const failed = [...results, ...more].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length) logger?.debug({ errors: failed.map((f) => String((f.reason as Error)?.message ?? f.reason)) }, 'watch cleanup errors (ignored)');
  }
  if (firstError !== undefined) throw firstError;
}
