import { EventEmitter } from 'node:events';

/** What the control plane announces to the data plane (gateway, credential cache, sandbox runtime). */
export interface ControlPlaneEventMap {
  'sandbox-claimed': [sandboxId: string];
  'sandbox-deleted': [sandboxId: string];
  'network-updated': [sandboxId: string];
  /** A credential source got a new version; bindings were re-pinned to it. */
  'source-rotated': [name: string, version: number];
  'source-deleted': [name: string];
  reset: [];
}

export class ControlPlaneEvents extends EventEmitter<ControlPlaneEventMap> {}
