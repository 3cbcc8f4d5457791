import { describe, expect, it } from 'vitest';
import { extractQuicClientHello } from '../../../src/classify/quic-sni.js';
import { minInitialDatagramBytes, quicInitial } from '../../../src/gateway/quic-initial-payload.js';

/** The probe's QUIC Initial: any SNI and ALPN, read back by the gateway's own classifier. */
describe('quicInitial', () => {
  it.each([
    ['api.internal.example.com', ['h3']],
    ['h3.customer.example', ['h3', 'h3-29']],
  ])('carries SNI %s and ALPN %j in a padded, protected v1 Initial', async (sni, alpn) => {
    const datagram = await quicInitial(sni, alpn);
    expect(datagram.length).toBe(minInitialDatagramBytes);
    const r = extractQuicClientHello(datagram);
    expect(r.kind).toBe('client-hello');
    if (r.kind !== 'client-hello') return;
    expect(r.hello.serverName).toBe(sni);
    expect(r.hello.alpn).toEqual(alpn);
  });

  it('sends no SNI when there is no name (the gateway then sees missing_sni)', async () => {
    const r = extractQuicClientHello(await quicInitial(undefined));
    expect(r.kind).toBe('client-hello');
    if (r.kind === 'client-hello') expect(r.hello.serverName).toBeUndefined();
  });
});
