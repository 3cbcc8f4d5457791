/**
 * The request decoders (zod schemas) are loaded on first use rather than at start-up: zod is the
 * heaviest import of the API and `start` must be ready fast. `warmDecoders()` loads them right after
 * the server listens.
 */
let loading: Promise<typeof import('./decode.js')> | undefined;

export const decoders = () => (loading ??= import('./decode.js'));

export function warmDecoders(): void {
  void decoders();
}
