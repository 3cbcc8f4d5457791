import { z } from 'zod';
import type { JsonSchema, OpenApiParameter } from './openapi-types.js';

/**
 * JSON Schema helpers for the admin API's OpenAPI document. Request bodies and query parameters come
 * from the zod schemas the routes check them with (`z.toJSONSchema`); response shapes, which are
 * TypeScript types, are described with `objectOf`, whose property names are checked against those types
 * at compile time, so a field added to a response does not compile until it is described.
 */

/** A zod schema as the JSON Schema of what a client may send (defaults optional, before transforms). */
export function fromZod(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: 'input' }) as JsonSchema;
  return json;
}

const described = (schema: JsonSchema, description?: string): JsonSchema => (description ? { ...schema, description } : schema);
export const str = (description?: string): JsonSchema => described({ type: 'string' }, description);
export const int = (description?: string): JsonSchema => described({ type: 'integer' }, description);
export const bool = (description?: string): JsonSchema => described({ type: 'boolean' }, description);
export const oneOfStrings = (values: readonly string[], description?: string): JsonSchema => described({ type: 'string', enum: [...values] }, description);
export const stringMap = (values: JsonSchema, description: string): JsonSchema => ({ type: 'object', additionalProperties: values, description });
export const arrayOf = (items: JsonSchema, description?: string): JsonSchema => described({ type: 'array', items }, description);
/** An object with one required property (`{faults: [...]}`, `{connections: [...]}`). */
export const objectWith = (name: string, schema: JsonSchema): JsonSchema => ({ type: 'object', required: [name], properties: { [name]: schema } });

type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];
type OptionalKeys<T> = Exclude<keyof T, RequiredKeys<T>>;

/**
 * An object schema with exactly `T`'s properties: `required` names `T`'s required ones and `optional`
 * the others, each described, so adding, renaming or making optional a field of `T` fails to compile
 * until this document says so.
 */
export function objectOf<T>(
  props: { required: { [K in RequiredKeys<T> & string]: JsonSchema }; optional: { [K in OptionalKeys<T> & string]: JsonSchema } },
  extra: JsonSchema = {},
): JsonSchema {
  const required = Object.keys(props.required);
  return {
    type: 'object',
    properties: { ...props.required, ...props.optional },
    ...(required.length > 0 ? { required } : {}),
    ...extra,
  };
}

/** A description for every field a zod object schema accepts (a new field does not compile until described). */
export type FieldDescriptions<S extends z.ZodType> = { [K in keyof z.input<S> & string]-?: string };

/** A zod object schema as JSON Schema, each property described. */
export function describedFromZod<S extends z.ZodType>(schema: S, descriptions: FieldDescriptions<S>): JsonSchema {
  const json = fromZod(schema);
  const properties = json.properties as Record<string, JsonSchema>;
  const withDescriptions = Object.entries(properties).map(([name, s]) => [name, { ...s, description: descriptions[name as keyof FieldDescriptions<S>] }]);
  return { ...json, properties: Object.fromEntries(withDescriptions) };
}

/** The query parameters a zod object schema checks, each described. */
export function queryParameters<S extends z.ZodType>(schema: S, descriptions: FieldDescriptions<S>): OpenApiParameter[] {
  const json = fromZod(schema);
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(json.properties as Record<string, JsonSchema>).map(([name, s]) => ({
    name,
    in: 'query',
    required: required.has(name),
    description: descriptions[name as keyof FieldDescriptions<S>],
    schema: s,
  }));
}

// Named schemas: defined beside the route that answers with them, listed in every document's components.
const components = new Map<string, () => JsonSchema>();

/**
 * A schema of the document's components (`#/components/schemas/<name>`), returned as its `$ref`. It is
 * built when a document is (zod → JSON Schema is not start-up work).
 */
export function componentSchema(name: string, build: () => JsonSchema): JsonSchema {
  components.set(name, build);
  return { $ref: `#/components/schemas/${name}` };
}

/** Every component schema defined so far, built. */
export const componentSchemas = (): Record<string, JsonSchema> => Object.fromEntries([...components].map(([name, build]) => [name, build()]));
