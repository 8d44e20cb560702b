/** CryptoManagerKmip (vCenter) and CryptoManagerHostKMS (per host) methods. */
import { faults } from '../fault.ts';
import { keyName, type KeyRef } from '../model.ts';
import { kmipClustersXVal } from '../objects.ts';
import { asArray, childText, intOf, type Node } from '../request.ts';
import { cryptoKeyXVal, type World } from '../world.ts';
import { bool, enm, moref, obj, ref, ser, str, type XVal } from '../xml.ts';
import { sessionOf, type MethodCall, type MethodDef } from './types.ts';

function keyOf(node: Node, where: string, w: World): KeyRef {
  const keyId = childText(node, 'keyId');
  if (keyId === undefined) throw faults.invalidArgument(`${where}.keyId is required`, `${where}.keyId`);
  const provider = node.providerId as Node | undefined;
  const providerId = childText(typeof provider === 'object' ? provider : undefined, 'id');
  const fallback = [...w.kmsClusters.values()].find((c) => c.useAsDefault)?.id ?? '';
  return { keyId, providerId: providerId ?? fallback };
}

/** ListKeys on vCenter: keys used by registered VMs plus host keys (not the KMS contents). */
function vcenterKeys(w: World): KeyRef[] {
  const seen = new Map<string, KeyRef>();
  for (const vm of w.vms.values()) {
    for (const k of vm.homeKey ? [vm.homeKey, ...w.diskKeys(vm)] : w.diskKeys(vm)) seen.set(keyName(k), k);
  }
  for (const h of w.hosts.values()) if (h.hostKey) seen.set(keyName(h.hostKey), h.hostKey);
  return [...seen.values()];
}

function hostOfCryptoManager(w: World, id: string) {
  for (const h of w.hosts.values()) if (h.cryptoManagerId === id) return h;
  return undefined;
}

function limited<T>(c: MethodCall, items: T[]): T[] {
  const limit = intOf(c.args, 'limit');
  return limit !== undefined && limit >= 0 && limit < items.length ? items.slice(0, limit) : items;
}

function clusterStatusXVal(w: World, ids: string[]): XVal {
  return {
    k: 'a',
    item: 'CryptoManagerKmipClusterStatus',
    items: ids.map((id) => {
      const c = w.kmsClusters.get(id);
      const ok = c?.reachable ?? false;
      return obj('CryptoManagerKmipClusterStatus', [
        ['clusterId', obj('KeyProviderId', [['id', str(id)]])],
        ['overallStatus', enm('ManagedEntityStatus', c ? (ok ? 'green' : 'red') : 'gray')],
        ['managementType', str('vCenter')],
        [
          'servers',
          {
            k: 'a',
            item: 'CryptoManagerKmipServerStatus',
            items: (c?.servers ?? []).map((s) =>
              obj('CryptoManagerKmipServerStatus', [
                ['name', str(s.name)],
                ['status', enm('ManagedEntityStatus', ok ? 'green' : 'red')],
                ['connectionStatus', str(ok ? 'Connected' : 'NotConnected')],
              ]),
            ),
          },
        ],
      ]);
    }),
  };
}

export const cryptoMethods: Record<string, MethodDef> = {
  ListKeys: {
    on: ['CryptoManagerKmip', 'CryptoManagerHostKMS'],
    handler: (c) => {
      const w = c.ctx.world;
      let keys: KeyRef[];
      if (c.thisRef.value === 'CryptoManager') keys = vcenterKeys(w);
      else {
        const h = hostOfCryptoManager(w, c.thisRef.value);
        if (!h) throw faults.notFound(c.thisRef);
        keys = [...h.cache].map((n) => {
          const i = n.indexOf('/');
          return { providerId: n.slice(0, i), keyId: n.slice(i + 1) };
        });
      }
      return limited(c, keys)
        .map((k) => ser('returnval', cryptoKeyXVal(k)))
        .join('');
    },
  },
  QueryCryptoKeyStatus: {
    on: ['CryptoManagerKmip'],
    // vSphere 6.7 U2 in fact; the simulator's older mode is 6.5.
    since67: true,
    handler: (c) => {
      const w = c.ctx.world;
      const bitmap = intOf(c.args, 'checkKeyBitMap');
      if (bitmap === undefined) throw faults.invalidRequest('QueryCryptoKeyStatus: missing required argument checkKeyBitMap');
      const given = asArray(c.args.keyIds).map((k, i) => keyOf(k as Node, `keyIds[${i}]`, w));
      const keys = given.length > 0 ? given : vcenterKeys(w);
      const vmsByKey = new Map<string, string[]>();
      if (bitmap & 0x02) {
        for (const vm of w.vms.values()) {
          const names = new Set((vm.homeKey ? [vm.homeKey, ...w.diskKeys(vm)] : w.diskKeys(vm)).map(keyName));
          for (const n of names) {
            const list = vmsByKey.get(n);
            if (list) list.push(vm.id);
            else vmsByKey.set(n, [vm.id]);
          }
        }
      }
      return keys
        .map((k) => {
          const a = w.kmsAvailability(k);
          const f: [string, XVal | undefined][] = [['keyId', cryptoKeyXVal(k)]];
          if (bitmap & 0x01) f.push(['keyAvailable', bool(a.available)], ['reason', a.reason ? str(a.reason) : undefined]);
          if (bitmap & 0x02) f.push(['encryptedVMs', { k: 'a', item: 'ManagedObjectReference', items: (vmsByKey.get(keyName(k)) ?? []).map((id) => ref('VirtualMachine', id)) }]);
          if (bitmap & 0x04) {
            const hosts = [...w.hosts.values()].filter((h) => h.hostKey && keyName(h.hostKey) === keyName(k));
            f.push(['affectedHosts', { k: 'a', item: 'ManagedObjectReference', items: hosts.map((h) => ref('HostSystem', h.id)) }]);
          }
          return ser('returnval', obj('CryptoManagerKmipCryptoKeyStatus', f));
        })
        .join('');
    },
  },
  ListKmipServers: {
    on: ['CryptoManagerKmip'],
    handler: (c) => {
      const all = kmipClustersXVal(c.ctx.world);
      const items = all.k === 'a' ? limited(c, all.items) : [];
      return items.map((i) => ser('returnval', i)).join('');
    },
  },
  IsKmsClusterActive: {
    on: ['CryptoManagerKmip'],
    since67: true,
    handler: (c) => {
      const w = c.ctx.world;
      const node = c.args.cluster as Node | undefined;
      const id = typeof node === 'object' ? childText(node, 'id') : undefined;
      const cluster = id !== undefined ? w.kmsClusters.get(id) : [...w.kmsClusters.values()].find((k) => k.useAsDefault);
      if (!cluster) throw faults.invalidArgument(`Key provider ${id ?? '(default)'} is not registered`, 'cluster');
      return `<returnval>${cluster.reachable}</returnval>`;
    },
  },
  GetDefaultKmsCluster: {
    on: ['CryptoManagerKmip'],
    since67: true,
    handler: (c) => {
      const d = [...c.ctx.world.kmsClusters.values()].find((k) => k.useAsDefault);
      return d ? ser('returnval', obj('KeyProviderId', [['id', str(d.id)]])) : '';
    },
  },
  RetrieveKmipServersStatus_Task: {
    on: ['CryptoManagerKmip'],
    handler: (c) => {
      const w = c.ctx.world;
      const asked = asArray(c.args.clusters).map((n, i) => {
        const cid = (n as Node).clusterId as Node | undefined;
        const id = typeof cid === 'object' ? childText(cid, 'id') : undefined;
        if (!id) throw faults.invalidArgument(`clusters[${i}].clusterId.id is required`, 'clusters.clusterId');
        return id;
      });
      const ids = asked.length > 0 ? asked : [...w.kmsClusters.keys()];
      const t = c.ctx.tasks.create('RetrieveKmipServersStatus_Task', 'CryptoManager.retrieveKmipServersStatus', { type: 'CryptoManagerKmip', id: 'CryptoManager', name: 'CryptoManager' }, sessionOf(c).userName, () =>
        clusterStatusXVal(w, ids),
      );
      return moref('returnval', { type: 'Task', value: t.id });
    },
  },
};
