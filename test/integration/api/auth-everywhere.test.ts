import { describe, expect, it } from 'vitest';
import { isWebUiPath } from '../../../src/api/web-ui.js';
import { useEmulator } from '../../helpers/emulator.js';
import { emulatorInternals } from '../../../src/internals.js';

/**
 * Every `/api/` and `/_emulator/` route the app serves (enumerated from the app itself, so a new route
 * is covered without editing this test) refuses a missing or a wrong token with 401 — except
 * `/_emulator/health` and the web view's static files (`/_emulator/ui`, which hold no data).
 */
const emu = useEmulator();

describe('authentication on every route', () => {
  it('refuses a missing or wrong token on every /api/ and /_emulator/ route', async () => {
    const routes = [...new Map(emulatorInternals(emu.current).app.routes.filter((r) => r.method !== 'ALL').map((r) => [`${r.method} ${r.path}`, r])).values()].filter(
      (r) => (r.path.startsWith('/api/') || r.path.startsWith('/_emulator/')) && r.path !== '/_emulator/health' && !isWebUiPath(r.path),
    );
    expect(routes.length).toBeGreaterThan(25);
    for (const route of routes) {
      const path = route.path.replace(/:[A-Za-z_]+/g, 'x');
      const body = ['POST', 'PUT', 'PATCH'].includes(route.method) ? '{}' : undefined;
      const variants: Record<string, string>[] = [{}, { authorization: 'Bearer s0_local_' + '0'.repeat(48) }, { authorization: 'Basic abc' }];
      for (const headers of variants) {
        const res = await fetch(emu.current.apiUrl + path, { method: route.method, headers: { ...headers, 'content-type': 'application/json' }, body });
        expect(res.status, `${route.method} ${route.path} with ${JSON.stringify(headers)}`).toBe(401);
        const json = (await res.json()) as { success: boolean; error: { code: string } };
        expect(json).toMatchObject({ success: false, error: { code: 'unauthorized' } });
      }
    }
    const health = await fetch(emu.current.apiUrl + '/_emulator/health');
    expect(health.status).toBe(200);
    // The web view's routes serve its three static files and nothing else.
    const web = emulatorInternals(emu.current).app.routes.filter((r) => r.method !== 'ALL' && isWebUiPath(r.path)).map((r) => `${r.method} ${r.path}`);
    expect(web.sort()).toEqual(['GET /_emulator/ui', 'GET /_emulator/ui/:file']);
    for (const file of ['index.html', 'app.js', 'app.css']) expect((await fetch(`${emu.current.apiUrl}/_emulator/ui/${file}`)).status).toBe(200);
    for (const file of ['x', '..%2f..%2fpackage.json', 'secrets.key', 'index.html.bak']) expect((await fetch(`${emu.current.apiUrl}/_emulator/ui/${file}`)).status, file).toBe(404);
  });
});
