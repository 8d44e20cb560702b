/** AuthorizationManager privilege checks. */
import { faults } from '../fault.ts';
import { asArray, moRefOf, requireText, textOf } from '../request.ts';
import { bool, obj, ref, ser, str } from '../xml.ts';
import type { MethodCall, MethodDef } from './types.ts';

function ancestors(c: MethodCall, id: string): string[] {
  const chain = [id];
  let cur = c.ctx.world.parentOf(id);
  while (cur !== undefined && chain.length < 32) {
    chain.push(cur);
    cur = c.ctx.world.parentOf(cur);
  }
  return chain;
}

function answer(c: MethodCall, userName: string, entityField: string): string {
  const entities = asArray(c.args[entityField]).map((e, i) => moRefOf(e, `${entityField}[${i}]`));
  const privs = asArray(c.args.privId).map(textOf).filter((p): p is string => !!p);
  let out = '';
  for (const e of entities) {
    if (!c.objects.typeOf(e.value)) throw faults.notFound(e);
    const chain = ancestors(c, e.value);
    out += ser(
      'returnval',
      obj('EntityPrivilege', [
        ['entity', ref(e.type, e.value)],
        ['privAvailability', { k: 'a', item: 'PrivilegeAvailability', items: privs.map((p) => obj('PrivilegeAvailability', [['privId', str(p)], ['isGranted', bool(c.ctx.users.hasPrivilege(userName, p, chain))]])) }],
      ]),
    );
  }
  return out;
}

export const authMethods: Record<string, MethodDef> = {
  HasPrivilegeOnEntities: {
    on: ['AuthorizationManager'],
    handler: (c) => {
      const sessionId = requireText(c.args, 'sessionId', 'HasPrivilegeOnEntities');
      const owner = c.ctx.sessions.all().find((s) => s.key === sessionId);
      if (!owner) throw faults.invalidArgument(`Session ${sessionId.slice(0, 4)}… is not active`, 'sessionId');
      return answer(c, owner.userName, 'entity');
    },
  },
  HasUserPrivilegeOnEntities: {
    on: ['AuthorizationManager'],
    handler: (c) => {
      const user = requireText(c.args, 'userName', 'HasUserPrivilegeOnEntities');
      if (!c.ctx.users.has(user)) throw faults.invalidArgument(`Unknown user ${user}`, 'userName');
      return answer(c, user, 'entities');
    },
  },
};
