/**
 * The scenario file format (config/scenarios/*.yaml), validated with zod so a
 * bad file gets an error naming the key. See config/scenarios/README.md.
 */
import { z } from 'zod';

// One vocabulary of causes: the scenarios' expectations use the diagnosis codes.
import { CAUSE_CODES, type KnownCauseCode } from '../diagnosis/causes.ts';

export { CAUSE_CODES };
export type CauseCode = KnownCauseCode;

const name = z.string().regex(/^[A-Za-z0-9_.-]{1,80}$/, 'use 1-80 letters, digits, ".", "-" or "_"');

const keyState = z.enum(['active', 'inactive', 'missing']);

const keySchema = z.union([
  keyState,
  z.object({ state: keyState.default('active'), cluster: name.optional() }).strict(),
]);

const diskSchema = z
  .object({
    /** Controller and unit, e.g. scsi0:0, sata0:1, nvme0:0, ide0:0. */
    at: z.string().regex(/^(scsi|sata|nvme|ide)[0-3]:\d{1,2}$/, 'expected <scsi|sata|nvme|ide><bus>:<unit>, e.g. scsi0:1'),
    key: name.optional(),
    /** Keys of backing.parent links, nearest first (snapshot chain). */
    parents: z.array(name.optional()).default([]),
    backing: z.enum(['flat', 'sesparse', 'sparse']).default('flat'),
    sizeGB: z.number().positive().max(65536).default(16),
  })
  .strict();

export const expectSchema = z
  .object({
    /** none: vmlock must leave the VM alone. */
    outcome: z.enum(['resolved', 'escalated', 'none']),
    cause: z.enum(CAUSE_CODES).optional(),
    actions: z.array(z.string()).default([]),
  })
  .strict()
  .refine((e) => e.outcome === 'none' || e.cause !== undefined, { message: 'a cause is required unless outcome is none', path: ['cause'] });

const vmSchema = z
  .object({
    name,
    host: name,
    folder: name.optional(),
    powerState: z.enum(['poweredOn', 'poweredOff', 'suspended']).default('poweredOn'),
    /** The VM home key (config.keyId); omit for a VM that is not encrypted. */
    key: name.optional(),
    firmware: z.enum(['bios', 'efi']).default('efi'),
    disks: z.array(diskSchema).default([]),
    /** disk:N (index into disks), cdrom, ethernet. Empty: firmware default order. */
    bootOrder: z.array(z.string().regex(/^(disk:\d+|cdrom|ethernet)$/, 'expected disk:<index>, cdrom or ethernet')).default([]),
    extraConfig: z.record(z.string(), z.string()).default({}),
    /** Keys dropped from the host cache at start: home, disk:N (that disk's own key). */
    missingOnHost: z.array(z.string().regex(/^(home|disk:\d+)$/, 'expected home or disk:<index>')).default([]),
    /** Force runtime.connectionState (e.g. invalid on a VM that is not encrypted: the not-encrypted cause). */
    connectionState: z.enum(['invalid', 'inaccessible', 'orphaned', 'disconnected']).optional(),
    /** A red locked-VM alarm on the VM at start, even though it is unlocked. */
    staleAlarm: z.boolean().default(false),
    /** A user tried to power the VM on at start (fails when a key is missing, with an event). */
    powerOnAttempt: z.boolean().default(false),
    expect: expectSchema.optional(),
  })
  .strict();

export const scenarioSchema = z
  .object({
    name,
    description: z.string().default(''),
    kms: z
      .array(
        z
          .object({
            id: name,
            reachable: z.boolean().default(true),
            default: z.boolean().default(false),
            servers: z.array(z.object({ name, address: z.string().min(1), port: z.number().int().min(1).max(65535) }).strict()).default([]),
          })
          .strict(),
      )
      .min(1, 'at least one key provider is needed'),
    /** Key name → state in the KMS (active | inactive | missing) and its provider (default: the default one). */
    keys: z.record(name, keySchema).default({}),
    hosts: z
      .array(
        z
          .object({
            name,
            cryptoState: z.enum(['incapable', 'prepared', 'safe', 'pendingIncapable']).default('safe'),
            /** The host rebooted while its keys could not be re-pushed: its cache is empty at start. */
            cacheCleared: z.boolean().default(false),
          })
          .strict(),
      )
      .default([]),
    folders: z
      .array(
        z
          .object({
            name,
            /** Privileges taken away on this folder, e.g. Cryptographer.RegisterVM from the service user. */
            deny: z.array(z.object({ user: z.string().min(1), privilege: z.string().min(1) }).strict()).default([]),
          })
          .strict(),
      )
      .default([]),
    vms: z.array(vmSchema).default([]),
    /** Generated VMs (clean and storm): `count` is the default of --vms. */
    generate: z
      .object({
        count: z.number().int().min(0).max(20000),
        hosts: z.number().int().min(1).max(500).default(4),
        /** VMs per generated host at most (more hosts are added when needed). */
        maxVmsPerHost: z.number().int().min(1).default(250),
        cacheCleared: z.boolean().default(false),
        powerState: z.enum(['poweredOn', 'poweredOff']).default('poweredOn'),
        expect: expectSchema.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** A scenario as written (defaults may be left out): what startSimulator({ scenario }) accepts. */
export type ScenarioFile = Omit<z.input<typeof scenarioSchema>, 'vms'> & { vms: z.input<typeof vmSchema>[] };
/** A scenario after validation, defaults filled in. */
export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioVm = z.output<typeof vmSchema>;
export type Expectation = z.infer<typeof expectSchema>;
