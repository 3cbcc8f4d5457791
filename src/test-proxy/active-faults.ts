import { EmulatorError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FaultDefinition, FaultKind } from './faults/fault.js';
import { faultKinds, parseFaultDefinition } from './faults/registry.js';

/** The faults a test proxy has switched on, in the order they were added (the order effects apply in). */

export interface TestProxyFaults {
  /** Validates and adds; throws `FaultDefinitionError` (bad input) or `EmulatorError('fault_exists')`. */
  add(definition: unknown): FaultDefinition;
  list(): FaultDefinition[];
  /** false when no fault has that name. */
  remove(name: string): boolean;
  clear(): void;
}

export interface ActiveFault {
  definition: FaultDefinition;
  kind: FaultKind<unknown>;
}

export class ActiveFaults implements TestProxyFaults {
  /** Read by every connection at each phase; mutated only here. */
  readonly active: ActiveFault[] = [];

  constructor(
    private readonly log: Logger,
    private readonly initial: readonly unknown[] = [],
  ) {
    this.addInitial();
  }

  // Arrow properties: callers may pass these methods around unbound.
  add = (input: unknown): FaultDefinition => {
    const definition = parseFaultDefinition(input);
    if (this.active.some((f) => f.definition.name === definition.name)) {
      throw new EmulatorError('fault_exists', `a fault named ${JSON.stringify(definition.name)} already exists`);
    }
    this.active.push({ definition, kind: faultKinds.get(definition.type) as FaultKind<unknown> });
    this.log.info({ fault: definition }, 'fault added');
    return definition;
  };

  list = (): FaultDefinition[] => this.active.map((f) => structuredClone(f.definition));

  remove = (name: string): boolean => {
    const i = this.active.findIndex((f) => f.definition.name === name);
    if (i < 0) return false;
    this.active.splice(i, 1);
    this.log.info({ fault: name }, 'fault removed');
    return true;
  };

  clear = (): void => {
    this.active.length = 0;
  };

  /** Back to the faults given at creation. */
  reset(): void {
    this.clear();
    this.addInitial();
  }

  private addInitial(): void {
    for (const f of this.initial) this.add(f);
  }
}
