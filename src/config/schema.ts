import { z } from 'zod';
import { parseDuration } from './duration.ts';

/** A duration written with its unit ("30s", "5m", "250ms"); read as milliseconds. */
const duration = z
  .string({ error: 'expected a duration with a unit, such as "30s" or "250ms"' })
  .transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration; write e.g. "250ms", "30s", "5m" or "1h"` });
      return z.NEVER;
    }
    return ms;
  });

const tls = z
  .object({
    /** PEM file with the CA that signed vCenter's certificate. */
    caFile: z.string().min(1).optional(),
    /** SHA-1 or SHA-256 fingerprint of vCenter's certificate (hex, colons optional). */
    thumbprint: z
      .string()
      .regex(/^([0-9A-Fa-f]{2}:?){20,32}$/, 'expected a hex SHA-1 or SHA-256 fingerprint')
      .optional(),
    /** Skip certificate verification. Only when set explicitly; logs a warning. */
    insecure: z.boolean().default(false),
  })
  .strict()
  .default({ insecure: false });

export const vcenterSchema = z
  .object({
    /** Short name used in incident ids, metrics and notifications. */
    name: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'use 1-40 letters, digits, "-" or "_"'),
    /** SDK URL, e.g. https://vcenter.example.com/sdk */
    url: z.url({ error: 'expected an https:// or http:// URL of the SDK endpoint' }),
    user: z.string().min(1),
    /** Inline password (discouraged outside tests); prefer passwordFile or passwordEnv. */
    password: z.string().optional(),
    passwordFile: z.string().optional(),
    passwordEnv: z.string().optional(),
    tls,
    /** Timeout of one SOAP call. WaitForUpdatesEx's maxWaitSeconds stays below it. */
    callTimeout: duration.default(90_000),
    /** Name of the locked-VM alarm; found from its event expression when unset. */
    lockedAlarmName: z.string().optional(),
    /** SOAPAction version sent; the simulator and vCenter 8 accept 8.0.3.0. */
    apiVersion: z.string().default('8.0.3.0'),
  })
  .strict();

export const policySchema = z
  .object({
    dryRun: z.boolean().default(false),
    detachNonBootDisks: z.boolean().default(true),
    powerOn: z.enum(['previous', 'never', 'always']).default('previous'),
    acknowledgeAlarm: z.boolean().default(true),
    kmsWaitTimeout: duration.default(600_000),
    maxConcurrentTasksPerVcenter: z.number().int().min(1).max(1000).default(8),
    reloadFallback: z.boolean().default(false),
    requireApproval: z.array(z.enum(['cryptoUnlock', 'detachDisk', 'powerOn', 'reload', 'acknowledgeAlarm'])).default([]),
  })
  .strict();

export const configSchema = z
  .object({
    apiVersion: z.literal('vmlock/v1alpha1').default('vmlock/v1alpha1'),
    kind: z.literal('Config').default('Config'),
    vcenters: z.array(vcenterSchema).default([]),
    redis: z
      .object({
        url: z.string().default('redis://127.0.0.1:6379'),
        /** Prefix of every Redis key and BullMQ queue of this deployment. */
        prefix: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('vmlock'),
      })
      .strict()
      .default({ url: 'redis://127.0.0.1:6379', prefix: 'vmlock' }),
    rabbitmq: z
      .object({
        /** AMQP URL; empty or unset means no broker: notifications are logged instead. */
        url: z.string().optional(),
        exchange: z.string().min(1).default('vmlock.events'),
        /** Publish retries back off up to this long between attempts. */
        maxBackoff: duration.default(30_000),
      })
      .strict()
      .default({ exchange: 'vmlock.events', maxBackoff: 30_000 }),
    policy: policySchema.default(policySchema.parse({})),
    poller: z
      .object({
        reconcileInterval: duration.default(300_000),
        /** maxWaitSeconds of each WaitForUpdatesEx, in whole seconds via the duration. */
        waitMax: duration.default(60_000),
        leaseTtl: duration.default(15_000),
        eventPageSize: z.number().int().min(1).max(1000).default(100),
        /** How far back to read events when no checkpoint exists. */
        eventReplay: duration.default(3_600_000),
      })
      .strict()
      .default({ reconcileInterval: 300_000, waitMax: 60_000, leaseTtl: 15_000, eventPageSize: 100, eventReplay: 3_600_000 }),
    worker: z
      .object({
        concurrency: z.number().int().min(1).max(1000).default(16),
        attempts: z.number().int().min(1).max(100).default(5),
        backoff: duration.default(2_000),
        /** Also run the notification publisher inside the worker process. */
        runNotifier: z.boolean().default(false),
      })
      .strict()
      .default({ concurrency: 16, attempts: 5, backoff: 2_000, runNotifier: false }),
    http: z
      .object({
        host: z.string().default('127.0.0.1'),
        /** 0 picks a free port. Each process kind adds its offset when several share a host. */
        port: z.number().int().min(0).max(65535).default(9464),
        /** Bearer token; required when host is not a loopback address. */
        token: z.string().optional(),
        tokenFile: z.string().optional(),
        enabled: z.boolean().default(true),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 9464, enabled: true }),
    logging: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

export type Config = z.output<typeof configSchema>;
export type VcenterConfig = z.output<typeof vcenterSchema>;
export type PolicyConfig = z.output<typeof policySchema>;
