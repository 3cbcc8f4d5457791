import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../../src/paths.js';
import { api, useEmulator } from '../../helpers/emulator.js';

/**
 * The web view in a real browser (Debian's chromium, driven by playwright-core): sign in with the
 * token, watch an allowed and a denied flow arrive live, open the denied one's story, add a fault
 * from the page and see the next flow fail with it; a wrong token shows the API's 401 message only.
 * Screenshots of each state go to a temporary folder, or to docs/ with SEE_UPDATE_SCREENSHOTS=1.
 */
const chromiumPath = '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
if (!haveChromium) console.warn(`web-view.test.ts skipped: ${chromiumPath} is absent (apt-get install chromium; .ci/run installs it)`);

const emu = useEmulator();
const client = api(() => emu.current);
const wrongToken = 's0_local_' + '0'.repeat(48);

/** A block-all policy with the docs' allow rule through the test proxy, and a deny rule for a test address. */
const policy = {
  mode: 'block-all',
  egress: {
    trafficRules: [
      { name: 'allow-private-api', action: 'allow', domains: ['api.internal.example.com'], ports: [{ port: 443, protocol: 'tcp' }], appProtocols: ['tls'] },
      { name: 'deny-test-net', action: 'deny', cidrs: ['198.18.0.53/32'] },
    ],
    proxy: { type: 'socks5', address: 'proxy.example.com:1080', credentialRef: 'corp-proxy' },
  },
  credentialBindings: [{ ref: 'corp-proxy', sourceRef: 'src', projection: { type: 'username_password', usernamePassword: {} } }],
};

describe.skipIf(!haveChromium)('web view in Chromium', { timeout: 60_000 }, () => {
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  let shots: string;
  let sandboxId: string;
  /** Script errors and console errors (a content security policy violation is one) other than the API's 401s. */
  const problems: string[] = [];
  afterEach(() => expect(problems.splice(0)).toEqual([]));

  /** A screenshot of the page, or of its top `height` pixels (the flows table with a few rows). */
  const shot = (name: string, height?: number) =>
    page.screenshot({ path: join(shots, `web-view-${name}.png`), ...(height ? { clip: { x: 0, y: 0, width: 1280, height } } : {}) });
  const probeAllowed = () => client.post(`/_emulator/sandboxes/${sandboxId}/probe`, { host: 'api.internal.example.com', port: 443, send: 'tls-client-hello' });
  const probeDenied = () => client.post(`/_emulator/sandboxes/${sandboxId}/probe`, { ip: '198.18.0.53', port: 80, send: 'http-get' });
  const signIn = async (token: string) => {
    await page.getByLabel('Token', { exact: true }).fill(token);
    await page.getByRole('button', { name: 'Open' }).click();
  };

  /** The page, signed in (each test starts from here, whatever ran before). */
  const openSignedIn = async () => {
    await page.goto(emu.current.apiUrl + '/_emulator/ui');
    await page.locator('#login:visible, #tabs:visible').first().waitFor();
    if (await page.locator('#login').isVisible()) await signIn(emu.current.token);
    await page.getByRole('tab', { name: 'Flows' }).waitFor();
    await page.locator('#stream-state', { hasText: 'live' }).waitFor();
  };

  beforeAll(async () => {
    shots = process.env.SEE_UPDATE_SCREENSHOTS === '1' ? join(packageRoot, 'docs') : await mkdtemp(join(tmpdir(), 'see-web-shots-'));
    await mkdir(shots, { recursive: true });
    userDataDir = await mkdtemp(join(tmpdir(), 'see-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
      timeout: 60_000,
    });
    // Under vitest's 30 s per test, so a step that waits in vain names its locator.
    context.setDefaultTimeout(10_000);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => problems.push(`script error: ${err.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    await client.post('/api/v1/credential-sources', { name: 'src', resolverKind: 'static_username_password', spec: { staticUsernamePassword: { username: 'proxy-user', password: 'proxy-pass' } } });
    sandboxId = (await client.post('/api/v1/sandboxes', { template: 'default' })).json.data.sandbox_id;
    expect((await client.put(`/api/v1/sandboxes/${sandboxId}/network`, policy)).status).toBe(200);
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
    if (shots && !shots.startsWith(packageRoot)) await rm(shots, { recursive: true, force: true });
  });

  it('is served at / and /_emulator/ui without a token, with a strict content security policy', async () => {
    for (const path of ['/', '/_emulator/ui']) {
      const res = await fetch(emu.current.apiUrl + path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy')).toContain("connect-src 'self'");
      expect(await res.text()).toContain('/_emulator/ui/app.js');
    }
    // The API itself still needs the bearer header, and the page opened no CORS door.
    const flows = await fetch(`${emu.current.apiUrl}/_emulator/flows`, { headers: { origin: 'http://elsewhere.example' } });
    expect(flows.status).toBe(401);
    expect(flows.headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${emu.current.apiUrl}/_emulator/ui/secrets.key`)).status).toBe(404);
  });

  it('with a wrong token shows the API 401 message and nothing else', async () => {
    await page.goto(emu.current.apiUrl + '/');
    await signIn(wrongToken);
    await expect.poll(() => page.locator('#login-error').textContent()).toBe('invalid api key');
    for (const id of ['#tabs', '#top-actions', '#view-flows', '#view-sandboxes', '#view-proxy']) expect(await page.locator(id).isVisible()).toBe(false);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await shot('wrong-token', 260);
  });

  it('shows an allowed and a denied flow live, and the denied one opens into its story', async () => {
    await page.goto(emu.current.apiUrl + '/_emulator/ui');
    await page.evaluate('sessionStorage.clear()');
    await openSignedIn();
    // The token is kept for the tab's session only.
    expect(await page.evaluate('Object.values(sessionStorage)')).toEqual([emu.current.token]);

    expect((await probeAllowed()).json.data.outcome).toBe('completed');
    expect((await probeDenied()).json.data.outcome).toBe('denied');
    const rows = page.locator('#flows-body tr.flow');
    await expect.poll(() => rows.count()).toBe(2);
    const allowedRow = rows.filter({ hasText: 'api.internal.example.com' });
    const deniedRow = rows.filter({ hasText: 'l4_denied' });
    await expect.poll(() => allowedRow.textContent()).toMatch(/use-adapter \(allowed\).*allow-private-api.*proxy.*completed/);
    expect(await allowedRow.textContent()).toContain('SNI');
    expect(await deniedRow.textContent()).toMatch(/198\.18\.0\.53:80.*deny \(l4_denied\).*deny-test-net/);
    await shot('flows', 220);
    // Filters: outcome, reason, text, sandbox.
    await page.getByLabel('Outcome', { exact: true }).selectOption('denied');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('l4_denied');
    await page.getByLabel('Outcome', { exact: true }).selectOption('');
    await page.getByLabel('Reason', { exact: true }).selectOption('allowed');
    await expect.poll(() => rows.count()).toBe(1);
    await page.getByLabel('Reason', { exact: true }).selectOption('');
    await page.getByLabel('Text', { exact: true }).fill('api.internal');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await page.locator('#flow-count').textContent()).toBe('1 of 2 flows');
    await page.getByLabel('Text', { exact: true }).fill('');
    await page.getByLabel('Sandbox', { exact: true }).selectOption(sandboxId);
    await expect.poll(() => rows.count()).toBe(2);
    await page.getByLabel('Sandbox', { exact: true }).selectOption('');
    // Readable in the dark too: the colours follow prefers-color-scheme.
    const background = () => page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(await background()).toBe('rgb(255, 255, 255)');
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await background()).toBe('rgb(13, 17, 23)');
    await shot('flows-dark', 220);
    await page.emulateMedia({ colorScheme: 'light' });

    await deniedRow.click();
    const story = page.locator('#story');
    await story.getByRole('heading', { name: 'Steps' }).waitFor();
    const text = await story.textContent();
    expect(text).toContain('deny (l4_denied)');
    expect(text).toContain('"deny-test-net" matched and denies');
    // The rule table: the allow rule was tried and did not match, the deny rule matched.
    const ruleRows = story.locator('table.rules tbody tr');
    expect(await ruleRows.nth(0).textContent()).toContain('no match');
    expect(await ruleRows.nth(1).textContent()).toContain('matched → deny');
    expect(await story.locator('pre').textContent()).toContain('"reason": "l4_denied"');
    await story.locator('table.rules').scrollIntoViewIfNeeded();
    await shot('story-denied');

    // The allowed flow's story shows the proxy handshake as the test proxy logged it, found by the gateway's source port.
    await allowedRow.click();
    await story.getByText('the proxy saw methods').waitFor();
    const allowed = await story.textContent();
    expect(allowed).toMatch(/user proxy-user \(accepted\), CONNECT api\.internal\.example\.com:443 ATYP domain: reply 0x00 \(succeeded\)/);
    expect(allowed).toContain('source');

    // Keyboard: Escape closes, arrows move, Enter opens.
    await page.keyboard.press('Escape');
    expect(await story.isVisible()).toBe(false);
    // Newest first: the denied flow is above the allowed one.
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Enter');
    await story.getByText('"deny-test-net" matched and denies').waitFor();
  });

  it('adds a fault from the page and the next flow fails with it', async () => {
    await openSignedIn();
    await page.getByRole('tab', { name: 'Proxy' }).click();
    await page.getByLabel('Type').selectOption('reply_code');
    await page.getByLabel('Name').fill('refuse');
    await page.getByLabel('Attributes (JSON)').fill('{"code": 2}');
    await page.getByRole('button', { name: 'Add fault' }).click();
    await page.locator('#faults-body', { hasText: 'refuse' }).waitFor();
    expect((await client.get('/_emulator/proxy/faults')).json.data.faults.map((f: { name: string }) => f.name)).toEqual(['refuse']);
    await page.locator('#users-body', { hasText: 'proxy-user' }).waitFor();
    expect(await page.locator('#view-proxy').textContent()).not.toContain('proxy-pass');
    await shot('proxy');

    expect((await probeAllowed()).json.data.outcome).toBe('error');
    await page.getByRole('tab', { name: 'Flows' }).click();
    const failed = page.locator('#flows-body tr.flow').filter({ hasText: 'error' });
    await expect.poll(() => failed.count()).toBe(1);
    await failed.click();
    const story = page.locator('#story');
    await story.getByText('faults: refuse').waitFor();
    expect(await story.textContent()).toContain('reply 0x02 (connection not allowed by ruleset)');
    await story.getByText('faults: refuse').scrollIntoViewIfNeeded();
    await shot('fault');

    // The proxy's connection log links the refused connection to its flow.
    const flowId = (await client.get('/_emulator/flows?outcome=error')).json.data.events.at(-1).attributes.flow_id;
    await page.getByRole('tab', { name: 'Proxy' }).click();
    await page.locator('#connections-body tr', { hasText: 'refuse' }).getByRole('button', { name: `Open the story of flow ${flowId}` }).click();
    await story.getByText('faults: refuse').waitFor();
    expect(await page.getByRole('tab', { name: 'Flows' }).getAttribute('aria-selected')).toBe('true');

    // Removing it from the page ends it.
    await page.getByRole('tab', { name: 'Proxy' }).click();
    await page.getByRole('button', { name: 'Remove fault refuse' }).click();
    await page.locator('#faults-body', { hasText: 'No active faults' }).waitFor();
    expect((await client.get('/_emulator/proxy/faults')).json.data.faults).toEqual([]);
  });

  it('shows the sandbox policy as a rule table and evaluates a flow with the same story', async () => {
    await openSignedIn();
    await page.getByRole('tab', { name: 'Sandboxes' }).click();
    await page.getByRole('button', { name: sandboxId }).click();
    const detail = page.locator('#sandbox-detail');
    await detail.getByText('Traffic rules (first match wins)').waitFor();
    const text = await detail.textContent();
    expect(text).toContain('explicit');
    expect(text).toContain('deny-test-net');
    expect(text).toMatch(/corp-proxy.*src.*username_password/);
    expect(text).not.toContain('proxy-pass');
    await detail.getByLabel('Host', { exact: true }).fill('api.internal.example.com');
    await detail.getByRole('button', { name: 'Evaluate' }).click();
    await detail.getByText('would CONNECT api.internal.example.com:443 (ATYP domain)').waitFor();
    expect(await detail.locator('table.rules').textContent()).toContain('matched → allow');
    await shot('sandbox');
  });

  it('shows what a sandbox sent as text, never as markup', async () => {
    await openSignedIn();
    const hostile = '<img src=x onerror=window.__xss=1>';
    const p = await client.post(`/_emulator/sandboxes/${sandboxId}/probe`, { ip: '198.18.0.53', port: 80, send: 'http-get', host: hostile });
    const row = page.locator('#flows-body tr.flow').filter({ hasText: hostile });
    await row.waitFor();
    await row.click();
    await page.locator('#story').getByText(`host ${hostile} from HTTP Host header`).waitFor();
    expect(p.json.data.flowId).toBeTruthy();
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
  });

  it('exports the state and the flows as one JSON file, without the token or a password', async () => {
    await openSignedIn();
    await client.post(`/_emulator/sandboxes/${sandboxId}/probe`, { ip: '198.18.0.53', port: 80, send: 'http-get' });
    const events = (await client.get('/_emulator/flows?limit=10000')).json.data.events;
    const flowCount = new Set(events.map((e: { operation_id: string }) => e.operation_id)).size;
    // The export holds the flows the page has received: wait until it has them all.
    await expect.poll(() => page.locator('#flow-count').textContent()).toBe(`${flowCount} flows`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export state + flows' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^emulator-export-.*\.json$/);
    const text = await readFile((await download.path())!, 'utf8');
    const doc = JSON.parse(text);
    expect(doc).toMatchObject({ kind: 'sandbox-egress-emulator/export', version: 1, proxy: { users: [{ username: 'proxy-user' }] } });
    expect(doc.sandboxes.map((s: { id: string }) => s.id)).toContain(sandboxId);
    expect(doc.sandboxes.find((s: { id: string }) => s.id === sandboxId).network.egress.trafficRules).toHaveLength(2);
    expect(doc.flows.map((e: { event_id: string }) => e.event_id).sort()).toEqual(events.map((e: { event_id: string }) => e.event_id).sort());
    expect(text).not.toContain(emu.current.token);
    expect(text).not.toContain('proxy-pass');
  });

  it('stays signed in for the session and keeps requiring the header (a stale token sends the user back)', async () => {
    await openSignedIn();
    await page.reload();
    await page.getByRole('tab', { name: 'Flows' }).waitFor();
    await page.evaluate(`sessionStorage.setItem('sandbox-egress-emulator.token', '${wrongToken}')`);
    await page.reload();
    await expect.poll(() => page.locator('#login-error').textContent()).toBe('invalid api key');
    expect(await page.locator('#view-flows').isVisible()).toBe(false);
  });
});
