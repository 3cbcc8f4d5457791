import { stringifyYaml } from './yaml-text.js';

export type OutputFormat = 'table' | 'json' | 'yaml';

/**
 * Go's `json.Encoder` with `SetIndent("", "  ")` (upstream `internal/output/json.go`): two-space
 * indent, a trailing newline, and HTML-safe escapes for `<`, `>`, `&`, U+2028 and U+2029.
 */
export function formatJson(data: unknown): string {
  const text = JSON.stringify(data ?? null, null, 2)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
  return text + '\n';
}

/**
 * Upstream `internal/output/yaml.go` goes through JSON into a generic map and encodes it with
 * yaml.v3 (indent 2), which sorts map keys; long strings are never folded.
 */
export async function formatYaml(data: unknown): Promise<string> {
  const generic: unknown = JSON.parse(JSON.stringify(data ?? null));
  return stringifyYaml(generic);
}

/** Renders a result in the chosen format; `table` is the per-resource human view. */
export async function formatOutput(format: OutputFormat, data: unknown, table: () => string): Promise<string> {
  if (format === 'json') return formatJson(data);
  if (format === 'yaml') return formatYaml(data);
  return table();
}
