import { existsSync, readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { PayloadError } from '../errors.ts';
import type { NotificationEvent } from './types.ts';

/**
 * schemas/notification.schema.json: the published contract of every message.
 * Found from src/notify (tsx) or dist/src/notify (built) alike.
 */
export const NOTIFICATION_SCHEMA_FILE: URL =
  [new URL('../../schemas/notification.schema.json', import.meta.url), new URL('../../../schemas/notification.schema.json', import.meta.url)].find((u) => existsSync(u)) ??
  new URL('../../schemas/notification.schema.json', import.meta.url);

// ajv-formats is CommonJS; under NodeNext its default import is module.exports, whose .default is the plugin.
const addFormats = addFormatsModule.default;

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
addFormats(ajv);
const validate = ajv.compile<NotificationEvent>(JSON.parse(readFileSync(NOTIFICATION_SCHEMA_FILE, 'utf8')) as object);

function describe(e: ErrorObject): string {
  const where = e.instancePath || '(root)';
  const extra = e.keyword === 'additionalProperties' ? ` "${String(e.params.additionalProperty)}"` : '';
  return `${where}: ${e.message ?? e.keyword}${extra}`;
}

/** Every schema problem of a message, one line each; empty when it is valid. */
export function notificationProblems(value: unknown): string[] {
  // "if" errors only repeat the "then" problem listed next to them.
  return validate(value) ? [] : (validate.errors ?? []).filter((e) => e.keyword !== 'if').map(describe);
}

/** Returns the value typed as a NotificationEvent, or throws PayloadError naming every problem. */
export function assertNotificationEvent(value: unknown): NotificationEvent {
  const problems = notificationProblems(value);
  if (problems.length) throw new PayloadError('notification', problems.join('; '));
  return value as NotificationEvent;
}
