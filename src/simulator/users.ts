/**
 * Users and privileges. The admin holds every privilege; `readonly-crypto`
 * holds every privilege but Cryptographer.RegisterVM. Grants and denials may
 * name an entity (they apply to it and everything below it) or none (global).
 * A denial wins over a grant, so a scenario can take Cryptographer.RegisterVM
 * away from the service user on one VM folder (the missing-privilege cause).
 */
export const REGISTER_VM = 'Cryptographer.RegisterVM';
export const READONLY_CRYPTO_USER = 'readonly-crypto';

interface UserRecord {
  password: string;
  all: boolean;
  /** privilege → entity ids ('*' = everywhere). */
  granted: Map<string, Set<string>>;
  denied: Map<string, Set<string>>;
}

export class Users {
  private readonly users = new Map<string, UserRecord>();

  add(name: string, password: string, all: boolean): void {
    this.users.set(name, { password, all, granted: new Map(), denied: new Map() });
  }

  has(name: string): boolean {
    return this.users.has(name);
  }

  names(): string[] {
    return [...this.users.keys()];
  }

  /** Constant-shape check; never logs or returns the password. */
  checkPassword(name: string, password: string): boolean {
    const u = this.users.get(name);
    return u !== undefined && u.password === password;
  }

  grant(name: string, privilege: string, entity = '*'): void {
    const u = this.require(name);
    u.denied.get(privilege)?.delete(entity);
    add(u.granted, privilege, entity);
  }

  revoke(name: string, privilege: string, entity = '*'): void {
    const u = this.require(name);
    u.granted.get(privilege)?.delete(entity);
    add(u.denied, privilege, entity);
  }

  /** Whether the user holds the privilege on the entity, given the entity's ancestors (nearest first). */
  hasPrivilege(name: string, privilege: string, entityAndAncestors: readonly string[]): boolean {
    const u = this.users.get(name);
    if (!u) return false;
    const scopes = [...entityAndAncestors, '*'];
    const denied = u.denied.get(privilege);
    if (denied && scopes.some((s) => denied.has(s))) return false;
    if (u.all) return true;
    const granted = u.granted.get(privilege);
    return granted !== undefined && scopes.some((s) => granted.has(s));
  }

  private require(name: string): UserRecord {
    const u = this.users.get(name);
    if (!u) throw new Error(`unknown user "${name}"; known users: ${this.names().join(', ')}`);
    return u;
  }
}

function add(m: Map<string, Set<string>>, k: string, v: string): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}
