import { describe, expect, it } from 'vitest';
import { useEmulator, waitForEvent } from '../../helpers/emulator.js';
import { emulatorInternals } from '../../../src/internals.js';

/**
 * Found by the soak (issue 8): the first in-process connections of an emulator, made concurrently,
 * raced the rendezvous listener (`address()` is null until it listens), so all but the first threw
 * "Cannot read properties of null (reading 'port')".
 */
const ctx = useEmulator();

describe('in-process connect', () => {
  it('serves concurrent first connections of a fresh emulator', async () => {
    const emu = ctx.current;
    const id = emulatorInternals(emu).services.sandboxes.claim({ template: 'default' }).sandbox_id;
    emulatorInternals(emu).services.network.put(id, { mode: 'block-all' }, false);
    const sockets = await Promise.all(Array.from({ length: 5 }, () => emu.sandbox(id).connect({ ip: '198.18.0.99', port: 80 })));
    expect(sockets).toHaveLength(5);
    for (const s of sockets) s.end('GET / HTTP/1.1\r\nHost: 198.18.0.99\r\n\r\n');
    // Each became a flow of its own, denied and audited.
    await waitForEvent(emu, () => emu.flows({ sandboxId: id }).filter((e) => e.phase === 'result').length === 5);
    expect(new Set(emu.flows({ sandboxId: id }).map((e) => e.attributes.flow_id)).size).toBe(5);
    for (const s of sockets) s.destroy();
  });
});
