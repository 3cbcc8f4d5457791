import { describe, expect, it } from 'vitest';
import { Socks5ClientHandshake, type ClientHandshakeOptions, type ClientStep } from '../../../src/socks5/client-handshake.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const target: ClientHandshakeOptions['target'] = { atyp: 'domain', host: 'api.example.com', port: 443 };
const credentials = { username: 'user', password: 's3cret-pw' };
const okReply = hex('05 00 00 01 0a 00 00 01 04 38');

/** Feeds `chunks` one after the other; returns every step and everything the client sent. */
function run(options: ClientHandshakeOptions, chunks: Buffer[]): { steps: ClientStep[]; sent: Buffer } {
  const h = new Socks5ClientHandshake(options);
  const sent = [h.greeting()];
  const steps = chunks.map((c) => h.receive(c));
  for (const s of steps) if (s.kind !== 'failed') sent.push(...s.send);
  return { steps, sent: Buffer.concat(sent) };
}

describe('the SOCKS5 client handshake (pure)', () => {
  it('offers no-auth only without credentials, then sends the CONNECT with ATYP domain', () => {
    const { steps, sent } = run({ target }, [hex('05 00'), okReply]);
    expect(sent).toEqual(Buffer.concat([hex('05 01 00'), hex('05 01 00 03 0f'), Buffer.from('api.example.com'), hex('01 bb')]));
    expect(steps.at(-1)).toMatchObject({ kind: 'established', bound: { atyp: 'ipv4', host: '10.0.0.1', port: 1080 }, surplus: Buffer.alloc(0) });
  });

  it('authenticates with RFC 1929 when the proxy picks username/password', () => {
    const { steps, sent } = run({ target: { atyp: 'ipv4', host: '192.0.2.7', port: 80 }, credentials }, [hex('05 02'), hex('01 00'), okReply]);
    expect(sent).toEqual(
      Buffer.concat([hex('05 02 00 02'), hex('01 04'), Buffer.from('user'), hex('09'), Buffer.from('s3cret-pw'), hex('05 01 00 01 c0 00 02 07 00 50')]),
    );
    expect(steps.map((s) => s.kind)).toEqual(['continue', 'continue', 'established']);
  });

  it('encodes an IPv6 target with ATYP 0x04', () => {
    const { sent } = run({ target: { atyp: 'ipv6', host: '2001:db8::1', port: 22 } }, [hex('05 00')]);
    expect(sent.subarray(3)).toEqual(hex('05 01 00 04 20010db8000000000000000000000001 0016'));
  });

  it('hands back the bytes after the reply as surplus, whatever the fragmentation', () => {
    const all = Buffer.concat([hex('05 00'), okReply, Buffer.from('SSH-2.0-x\r\n')]);
    const bytewise = run({ target }, [...all].map((b) => Buffer.from([b])));
    const established = bytewise.steps.find((s) => s.kind === 'established');
    expect(established).toMatchObject({ kind: 'established' });
    const whole = run({ target }, [hex('05 00'), Buffer.concat([okReply, Buffer.from('SSH-2.0-x\r\n')])]).steps.at(-1);
    expect(whole).toMatchObject({ kind: 'established', surplus: Buffer.from('SSH-2.0-x\r\n') });
  });

  it.each([
    ['method refused', [hex('05 ff')], { stage: 'method', failure: { kind: 'method-refused' } }],
    ['not SOCKS5', [hex('04 00')], { stage: 'method', failure: { kind: 'bad-version', stage: 'method' } }],
    ['unknown method', [hex('05 07')], { stage: 'method', failure: { kind: 'unknown-method', method: 7 } }],
    ['auth rejected', [hex('05 02'), hex('01 01')], { stage: 'auth', failure: { kind: 'auth-failed', status: 1 } }],
    ['reply 0x02', [hex('05 02'), hex('01 00'), hex('05 02 00 01 00')], { stage: 'reply', failure: { kind: 'rejected', code: 2, version: 5 } }],
    ['unknown bound ATYP', [hex('05 00'), hex('05 00 00 09 00 00')], { stage: 'reply', failure: { kind: 'malformed', code: 'socks5_bad_address_type' } }],
  ])('fails with a typed failure: %s', (_name, chunks, expected) => {
    const { steps } = run({ target, credentials }, chunks);
    expect(steps.at(-1)).toMatchObject({ kind: 'failed', ...expected });
    expect(JSON.stringify(steps)).not.toContain('s3cret-pw');
  });

  it('judges a refusal from the reply head (5 bytes), before the whole reply', () => {
    const h = new Socks5ClientHandshake({ target });
    h.greeting();
    h.receive(hex('05 00'));
    expect(h.receive(hex('05 04 00 01'))).toMatchObject({ kind: 'continue', send: [] });
    expect(h.receive(hex('00'))).toMatchObject({ kind: 'failed', failure: { kind: 'rejected', code: 4 } });
  });

  it('a name too long for a request is a typed failure that does not echo the credentials', () => {
    const { steps } = run({ target: { atyp: 'domain', host: 'a'.repeat(256), port: 1 }, credentials }, [hex('05 02'), hex('01 00')]);
    expect(steps.at(-1)).toMatchObject({ kind: 'failed', stage: 'auth', failure: { kind: 'malformed', code: 'socks5_domain_too_long' } });
  });
});
