/**
 * The request decoders (Go-type descriptors, decode.ts) are loaded on first use rather than at
 * start-up, to keep `start` fast; `warmDecoders()` loads them right after the server listens.
 */
let loading: Promise<typeof import('./decode.js')> | undefined;

export const decoders = () => (loading ??= import('./decode.js'));

export function warmDecoders(): void {
  void decoders();
}
