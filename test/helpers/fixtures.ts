import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The recorded SOAP exchanges live in `shared/fixtures`, beside the checkout
 * (`../shared` from the repository root), as CI lays them out. VMLOCK_FIXTURES
 * overrides; /work/shared is the developers' machine layout.
 */
function findFixtures(): string {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const candidates = [process.env.VMLOCK_FIXTURES, resolve(repoRoot, '../shared/fixtures'), '/work/shared/fixtures'];
  for (const c of candidates) if (c && existsSync(resolve(c, 'real-vcenter'))) return c;
  throw new Error(`recorded fixtures not found; looked in ${candidates.filter(Boolean).join(', ')} (set VMLOCK_FIXTURES)`);
}

export const FIXTURES_DIR = findFixtures();
export const REAL_VCENTER_DIR = `${FIXTURES_DIR}/real-vcenter/`;
export const VCSIM_DIR = `${FIXTURES_DIR}/vcsim/`;
