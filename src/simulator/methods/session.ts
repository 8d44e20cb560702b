/** ServiceInstance and SessionManager methods. */
import { faults } from '../fault.ts';
import { serviceContentXVal, userSessionXVal } from '../objects.ts';
import { requireText } from '../request.ts';
import { date, ser } from '../xml.ts';
import { sessionOf, type MethodDef } from './types.ts';

export const sessionMethods: Record<string, MethodDef> = {
  RetrieveServiceContent: {
    on: ['ServiceInstance'],
    anonymous: true,
    handler: (c) => ser('returnval', serviceContentXVal(c.ctx)),
  },
  CurrentTime: {
    on: ['ServiceInstance'],
    handler: () => ser('returnval', date(Date.now())),
  },
  Login: {
    on: ['SessionManager'],
    anonymous: true,
    handler: (c) => {
      const user = requireText(c.args, 'userName', 'Login');
      const password = requireText(c.args, 'password', 'Login');
      if (!c.ctx.users.checkPassword(user, password)) throw faults.invalidLogin();
      const s = c.ctx.sessions.create(user, c.client.ip, c.client.userAgent);
      c.setSession(s);
      return ser('returnval', userSessionXVal(s));
    },
  },
  Logout: {
    on: ['SessionManager'],
    handler: (c) => {
      c.ctx.sessions.end(sessionOf(c));
      return '';
    },
  },
  SessionIsActive: {
    on: ['SessionManager'],
    handler: (c) => {
      const id = requireText(c.args, 'sessionID', 'SessionIsActive');
      return `<returnval>${c.ctx.sessions.isActive(id)}</returnval>`;
    },
  },
};
