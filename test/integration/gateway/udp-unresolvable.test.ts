import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../src/emulator.js';
import { encodeRequest, Socks5Command, Socks5Method, Socks5Reply } from '../../../src/socks5/protocol.js';
import { encodeUdpDatagram } from '../../../src/socks5/udp-datagram.js';
import { waitForEvent } from '../../helpers/emulator.js';
import { greetingBytes, rawConnect } from '../../helpers/socks-raw.js';
import { emulatorInternals } from '../../../src/internals.js';

/**
 * Datagrams to a name the sandbox cannot resolve never become flows (the documented pitfall); the
 * audit says so once per name and port, as a UDP record with its own flow id, not once per datagram.
 */
let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ token: 't' });
});
afterAll(async () => {
  await emu.stop();
});

describe('UDP to a name the sandbox cannot resolve', () => {
  it('is audited once per destination as a udp flow, however many datagrams are sent', async () => {
    const id = emulatorInternals(emu).services.sandboxes.claim({ template: 'default' }).sandbox_id;
    await emulatorInternals(emu).runtime.attach(id);
    const control = await rawConnect(Number(emu.sandbox(id).view()!.ingress!.socks5.split(':').pop()));
    const udp = dgram.createSocket('udp4');
    try {
      control.send(Buffer.concat([greetingBytes([Socks5Method.NoAuth]), encodeRequest({ command: Socks5Command.UdpAssociate, address: { atyp: 'ipv4', host: '0.0.0.0', port: 0 } })]));
      const reply = await control.readBytes(12);
      expect(reply[3]).toBe(Socks5Reply.Succeeded);
      const relayPort = reply.readUInt16BE(10);
      await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
      const first = waitForEvent(emu, (e) => e.sandbox_id === id && e.attributes.host === 'nx.corp.example.com');
      const datagram = encodeUdpDatagram({ atyp: 'domain', host: 'nx.corp.example.com', port: 5353 }, Buffer.from('q'));
      // UDP may drop a datagram: keep sending (bounded) until the first event shows up, then 20 more.
      const resend = setInterval(() => udp.send(datagram, relayPort, '127.0.0.1'), 50);
      const event = await first.finally(() => clearInterval(resend));
      for (let i = 0; i < 20; i++) udp.send(datagram, relayPort, '127.0.0.1');
      // A datagram to another port is another destination: its event also marks that the 20 were handled.
      const other = waitForEvent(emu, (e) => e.sandbox_id === id && e.attributes.dest_port === 5354);
      const marker = setInterval(() => udp.send(encodeUdpDatagram({ atyp: 'domain', host: 'nx.corp.example.com', port: 5354 }, Buffer.from('q')), relayPort, '127.0.0.1'), 50);
      await other.finally(() => clearInterval(marker));

      expect(event.attributes).toMatchObject({ transport: 'udp', reason: 'sandbox_resolution_failed', dest_port: 5353, action: 'deny' });
      expect(event.attributes.flow_id).toMatch(/^udp-\d+$/);
      const events = emu.flows({ sandboxId: id }).filter((e) => e.attributes.host === 'nx.corp.example.com');
      expect(events.map((e) => e.attributes.dest_port)).toEqual([5353, 5354]);
      expect(new Set(events.map((e) => e.attributes.flow_id)).size).toBe(2);
    } finally {
      udp.close();
      control.close();
    }
  });
});
