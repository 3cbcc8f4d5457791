/**
 * YAML in and out, with the `yaml` library loaded only when needed: most CLI runs see JSON or
 * nothing at all, and the library costs ~100 ms of start-up.
 */
type YamlModule = typeof import('yaml');
let loaded: Promise<YamlModule> | undefined;
const yamlModule = () => (loaded ??= import('yaml'));

/**
 * Parses YAML 1.1 (what upstream's ghodss/yaml reads). JSON is tried first: every JSON document is
 * YAML with the same meaning, and JSON.parse is free.
 */
export async function parseYamlText(text: string): Promise<unknown> {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const { parse } = await yamlModule();
    return parse(text, { version: '1.1', logLevel: 'error' }) as unknown;
  }
}

/** yaml.v3 as upstream configures it: indent 2, map keys sorted, no line folding. */
export async function stringifyYaml(value: unknown): Promise<string> {
  const { stringify } = await yamlModule();
  return stringify(value, { indent: 2, sortMapEntries: true, lineWidth: 0 });
}
