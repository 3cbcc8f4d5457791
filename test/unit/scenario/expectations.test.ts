import { describe, expect, it } from 'vitest';
import { describeDifference, matchExpectations } from '../../../src/scenario/expectations.js';
import { renderJunit, renderScenarioText, type ScenarioResult } from '../../../src/scenario/report.js';
import { resolveSecrets, secretEnvName } from '../../../src/scenario/secrets.js';
import { escapeControl } from '../../../src/text/control-chars.js';

describe('matchExpectations', () => {
  const got = {
    decision: 'allow' as const,
    reason: 'allowed',
    route: 'proxy',
    outcome: 'error',
    errorStep: 'proxy_reply',
    proxyTarget: { atyp: 'domain', host: 'api.internal.example.com', port: 443 },
    proxy: { reached: true, atyp: 'domain', replyCode: 8, user: 'proxy-user' },
    audit: { proxy_reply_code: 8, protocol: 'tls' },
    response: 'HTTP/1.1 200 OK\r\n',
  };

  it('passes when every expected field holds, ignoring the others', () => {
    expect(matchExpectations({ decision: 'allow', proxy: { replyCode: 8 }, proxyTarget: { atyp: 'domain' }, audit: { protocol: 'tls' }, response: { contains: '200 OK' } }, got)).toEqual([]);
    expect(matchExpectations(undefined, got)).toEqual([]);
  });

  it('names each field that does not hold, with expected and got, nested by path', () => {
    const diffs = matchExpectations({ reason: 'l4_denied', proxy: { atyp: 'ipv4', replyCode: 8 }, audit: { proxy_reply_code: 0 }, errorStep: 'proxy_auth' }, got);
    expect(diffs).toEqual([
      { path: 'reason', expected: 'l4_denied', got: 'allowed' },
      { path: 'proxy.atyp', expected: 'ipv4', got: 'domain' },
      { path: 'audit.proxy_reply_code', expected: 0, got: 8 },
      { path: 'errorStep', expected: 'proxy_auth', got: 'proxy_reply' },
    ]);
    expect(describeDifference(diffs[0]!)).toEqual(['expected reason: l4_denied', 'got      reason: allowed']);
  });

  it('checks contains as a substring, and reports a missing value as nothing', () => {
    expect(matchExpectations({ response: { contains: '404' } }, got)).toEqual([{ path: 'response', expected: '404', got: 'HTTP/1.1 200 OK\r\n', check: 'contains' }]);
    expect(matchExpectations({ matchedRule: 'x' }, got)).toEqual([{ path: 'matchedRule', expected: 'x', got: null }]);
  });

  it('says the proxy was not reached instead of listing every absent field', () => {
    expect(matchExpectations({ proxy: { atyp: 'domain', replyCode: 0 } }, { proxy: { reached: false } })).toEqual([{ path: 'proxy.reached', expected: true, got: false }]);
    expect(matchExpectations({ proxy: { reached: false } }, { proxy: { reached: false } })).toEqual([]);
    expect(matchExpectations({ proxy: { reached: false } }, got)).toEqual([{ path: 'proxy.reached', expected: false, got: true }]);
  });

  it('compares arrays whole', () => {
    expect(matchExpectations({ addresses: ['198.18.0.53'] }, { addresses: ['198.18.0.53'] })).toEqual([]);
    expect(matchExpectations({ addresses: ['198.18.0.53'] }, { addresses: [] })).toHaveLength(1);
  });
});

const result = (over: Partial<ScenarioResult> = {}): ScenarioResult => ({
  name: 'No hostnames',
  file: 'repro.yaml',
  passed: false,
  emulator: { apiUrl: 'http://127.0.0.1:1', interception: 'explicit', attached: false },
  steps: [
    {
      index: 1,
      name: 'HTTPS through the proxy',
      action: 'connect',
      sandbox: 'app',
      summary: 'connect tls api.internal.example.com:443',
      status: 'failed',
      happened: 'allowed → error at proxy_reply',
      got: { reason: 'allowed' },
      differences: [{ path: 'errorStep', expected: 'proxy_auth', got: 'proxy_reply' }],
      auditLine: 'flow tcp-1 tcp 198.18.0.10:443 host=evil\u001b[2Jhost',
      proxyLine: '#1 user=proxy-user atyp=domain reply=0x08 address type not supported',
      durationMs: 12,
    },
    { index: 2, name: 'exec curl', action: 'exec', summary: 'exec curl', status: 'skipped', happened: 'not run', got: {}, differences: [], message: 'skipped: transparent only', durationMs: 0 },
  ],
  durationMs: 20,
  ...over,
});

describe('reports', () => {
  it('prints per step what happened, expected vs got, the audit and proxy lines, and the failed steps', () => {
    const text = renderScenarioText(result());
    expect(text).toContain('FAIL step 1 "HTTPS through the proxy": connect tls api.internal.example.com:443 (sandbox app)');
    expect(text).toContain('expected errorStep: proxy_auth\n     got      errorStep: proxy_reply');
    expect(text).toContain('proxy: #1 user=proxy-user atyp=domain reply=0x08');
    expect(text).toContain('SKIP step 2 "exec curl"');
    expect(text).toContain('Result: FAIL (0 passed, 1 failed, 1 skipped; failed: step 1 "HTTPS through the proxy")');
    // Sandbox-supplied text cannot drive the terminal.
    expect(text).not.toContain('\u001b');
    expect(text).toContain('host=evil\\x1b[2Jhost');
  });

  it('writes JUnit XML with a failure per failed step and escaped text', () => {
    const xml = renderJunit([result()]);
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites [^>]*tests="2" failures="1">/);
    expect(xml).toContain('<testcase classname="No hostnames" name="step 1: HTTPS through the proxy" time="0.012">');
    expect(xml).toContain('<failure message="errorStep: expected &quot;proxy_auth&quot;, got &quot;proxy_reply&quot;">');
    expect(xml).toContain('<skipped message="skipped: transparent only"/>');
    expect(xml).not.toContain('\u001b');
    const setup = renderJunit([result({ steps: [], setupError: 'platform.sandboxes "app" network: <bad>' })]);
    expect(setup).toContain('<testcase classname="No hostnames" name="setup"><failure message="platform.sandboxes &quot;app&quot; network: &lt;bad&gt;"/></testcase>');
  });
});

describe('secrets', () => {
  it('gives every use of a placeholder the same value, from the environment or made up', () => {
    let n = 0;
    const doc = { a: '${secret:proxy-password}', b: ['x${secret:proxy-password}y', '${secret:other}'], c: 3 };
    const out = resolveSecrets(doc, { [secretEnvName('other')]: 'from-env' }, () => `gen${++n}`) as typeof doc;
    expect(out).toEqual({ a: 'gen1', b: ['xgen1y', 'from-env'], c: 3 });
    expect(secretEnvName('proxy-password')).toBe('SEE_SECRET_PROXY_PASSWORD');
  });
});

describe('escapeControl', () => {
  it('shows control, C1 and bidi characters as escapes and keeps the rest', () => {
    expect(escapeControl('api.example.com')).toBe('api.example.com');
    expect(escapeControl('a\u001b]0;x\u0007b\r\n\u009b\u202e\\')).toBe('a\\x1b]0;x\\x07b\\x0d\\x0a\\x9b\\u202e\\\\');
  });
});

describe('terminalSafeJson', () => {
  it('writes C1 and bidi controls as \\u escapes and stays the same JSON value', async () => {
    const { terminalSafeJson } = await import('../../../src/text/control-chars.js');
    const value = { host: 'a\u001b[2J\u009b31m\u202eb', n: 1 };
    const text = terminalSafeJson(value);
    expect(text).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(JSON.parse(text)).toEqual(value);
  });
});
