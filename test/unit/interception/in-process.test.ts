import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { TcpFlowInput } from '../../../src/gateway/flow.js';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { InProcessInterception } from '../../../src/interception/in-process.js';

/** A gateway that echoes each flow's bytes back, prefixed with the flow's sandbox and destination. */
function echoGateway() {
  const flows: TcpFlowInput[] = [];
  const emulatorPorts = new Set<number>();
  const gateway = {
    host: { emulatorPorts },
    handleTcp: (input: TcpFlowInput) => {
      flows.push(input);
      input.socket.write(`${input.sandboxId} ${input.originalDst?.ip}:${input.originalDst?.port} `);
      input.socket.pipe(input.socket);
      return new Promise((res) => input.socket.once('close', () => res(undefined)));
    },
  } as unknown as Pick<Gateway, 'handleTcp' | 'host'>;
  return { gateway, flows, emulatorPorts };
}

const readUntil = (socket: net.Socket, length: number): Promise<string> =>
  new Promise((res) => {
    let got = '';
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= length) res(got);
    });
  });

describe('in-process interception', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => stop?.());

  it('hands each accepted end to the gateway as the sandbox\'s flow, however many connect at once', async () => {
    const { gateway, flows, emulatorPorts } = echoGateway();
    const inProcess = new InProcessInterception(gateway);
    stop = () => inProcess.stop();
    expect(inProcess.healthy()).toBe(true); // not opened yet
    const conns = await Promise.all([1, 2, 3, 4, 5].map((n) => inProcess.connect(`sb${n}`, { ip: `192.0.2.${n}`, port: 440 + n })));
    expect(emulatorPorts.size).toBe(1);
    expect(flows).toHaveLength(5);
    for (const [i, { socket }] of conns.entries()) {
      const expected = `sb${i + 1} 192.0.2.${i + 1}:${441 + i} hello`;
      const read = readUntil(socket, expected.length);
      socket.write('hello');
      expect(await read).toBe(expected);
    }
    expect(inProcess.healthy()).toBe(true);
    for (const { socket, flow } of conns) {
      socket.destroy();
      await flow;
    }
    await inProcess.stop();
    stop = undefined;
    expect(inProcess.healthy()).toBe(false); // opened, no longer listening
  });
});
