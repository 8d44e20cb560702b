import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { VMLOCK_BIN } from '../../src/demo/processes.ts';
import { REDIS_URL, uniquePrefix } from '../helpers/services.ts';

describe('vmlock serve', () => {
  it('serves the ops API on Redis, prints its URL as JSON and stops cleanly on SIGTERM', async () => {
    const prefix = uniquePrefix('serve');
    const child = spawn(process.execPath, [VMLOCK_BIN, 'serve', '--port', '0', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VMLOCK__redis__url: REDIS_URL, VMLOCK__redis__prefix: prefix, VMLOCK__logging__level: 'warn' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(out.slice(0, nl));
      });
      child.once('exit', (code) => reject(new Error(`serve exited (${code}) before printing its URL: ${stderr}`)));
    });
    const { url, prefix: shownPrefix } = JSON.parse(line) as { url: string; prefix: string };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(shownPrefix).toBe(prefix);

    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    const list = (await (await fetch(`${url}/api/incidents`)).json()) as { count: number };
    expect(list.count).toBe(0);
    expect((await fetch(`${url}/queues`)).status).toBe(200);

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });
});
