import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxNetworkPolicy } from '../policy/types.js';

/** A sandbox template: the emulator has `default` plus whatever `fixtures/templates/*.json` holds. */
export interface Template {
  id: string;
  description?: string;
  network?: SandboxNetworkPolicy;
}

export function loadTemplates(dir: string): Map<string, Template> {
  const templates = new Map<string, Template>([['default', { id: 'default' }]]);
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return templates;
  }
  for (const file of files.sort()) {
    const t = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Template;
    templates.set(t.id, t);
  }
  return templates;
}
