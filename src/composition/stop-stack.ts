import type { Logger } from '../log.js';

type Stop = () => Promise<void> | void;

/**
 * What the emulator started, stopped in reverse order (so the data dir lock, taken first, is released
 * last); a stop that fails is logged and the others still run.
 */
export class StopStack {
  private readonly stops: Stop[] = [];

  constructor(private readonly logger: Logger) {}

  push(stop: Stop): void {
    this.stops.push(stop);
  }

  async stopAll(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        this.logger.warn({ err: { message: (err as Error).message } }, 'error while stopping a component');
      }
    }
  }
}
