import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeAll, type HandshakeStage, type HandshakeState } from '../socks5/server-handshake.js';
import type { ActiveFault } from './active-faults.js';
import type { LiveEntry } from './connection-log.js';
import { matches, type FaultContext, type FaultEffect, type FaultPhase } from './faults/fault.js';
import type { RelayShaping } from './relay.js';

/**
 * The faults of one connection: each fault's toxicity is drawn once per connection, the effects that
 * apply at a phase are collected (and their faults named in the log entry), and the effects every
 * phase shares are carried out here: delays, fragmented handshake replies, relay shaping. Effects
 * that decide a step (close, refuse, reject, reply) are returned to the handshake callbacks.
 */
export class ConnectionFaults {
  private readonly rolls = new Map<string, boolean>();
  private readonly fragmentStages = new Set<HandshakeStage>();
  private fragmentGapMs = 0;

  constructor(
    private readonly active: readonly ActiveFault[],
    private readonly random: () => number,
    private readonly entry: LiveEntry,
  ) {}

  effectsAt(phase: FaultPhase, state: HandshakeState): FaultEffect[] {
    const out: FaultEffect[] = [];
    if (this.active.length === 0) return out;
    const context: FaultContext = { phase };
    if (state.user !== undefined) context.user = state.user;
    if (state.request !== undefined) context.request = state.request;
    for (const { definition, kind } of this.active) {
      if (!matches(definition.match, context)) continue;
      if (!this.roll(definition.name, definition.toxicity)) continue;
      const effect = kind.effect(definition.attributes, context);
      if (!effect) continue;
      out.push(effect);
      const named = (this.entry.faults ??= []);
      if (!named.includes(definition.name)) named.push(definition.name);
    }
    return out;
  }

  /** Applies delays and fragmentation; returns the first effect that decides the step, if any. */
  async prepare(phase: HandshakeStage, state: HandshakeState): Promise<FaultEffect | undefined> {
    const effects = this.effectsAt(phase, state);
    if (effects.length === 0) return undefined;
    const delay = effects.reduce((ms, e) => (e.kind === 'delay' ? ms + e.ms : ms), 0);
    if (delay > 0) await sleep(delay);
    const fragment = effects.find((e) => e.kind === 'fragment');
    if (fragment?.kind === 'fragment') {
      this.fragmentStages.add(phase);
      this.fragmentGapMs = fragment.gapMs;
    }
    return effects.find((e) => e.kind !== 'delay' && e.kind !== 'fragment');
  }

  /** Writes a handshake reply, one byte per write at the stages a fragmenting fault chose. */
  async write(socket: Socket, bytes: Buffer, stage: HandshakeStage): Promise<void> {
    if (!this.fragmentStages.has(stage)) return writeAll(socket, bytes);
    for (const byte of bytes) {
      if (socket.destroyed) return;
      await writeAll(socket, Buffer.from([byte]));
      if (this.fragmentGapMs > 0) await sleep(this.fragmentGapMs);
      else await new Promise((r) => setImmediate(r));
    }
  }

  /** How the relay is shaped for this connection (the last throttle and reset win). */
  relayShaping(state: HandshakeState): RelayShaping {
    const shaping: RelayShaping = {};
    for (const effect of this.effectsAt('relay', state)) {
      if (effect.kind === 'throttle') shaping.throttle = { bytesPerSecond: effect.bytesPerSecond, direction: effect.direction };
      if (effect.kind === 'reset-after') shaping.resetAfter = { bytes: effect.bytes, direction: effect.direction };
    }
    return shaping;
  }

  private roll(name: string, toxicity: number): boolean {
    let roll = this.rolls.get(name);
    if (roll === undefined) {
      roll = toxicity >= 1 || this.random() < toxicity;
      this.rolls.set(name, roll);
    }
    return roll;
  }
}
