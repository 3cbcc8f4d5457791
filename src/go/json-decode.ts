/**
 * Decoding a request body into a described Go type with encoding/json's (Go 1.25, v1) semantics, so a
 * body the platform rejects is rejected here with the same text, and one it accepts is read the same:
 *
 * - values are decoded in document order and the first type error wins:
 *   `json: cannot unmarshal <json> into Go struct field <Struct>.<json.path> of type <go type>`, where
 *   `<Struct>` is the innermost struct whose field was being decoded and the path lists the JSON field
 *   names from the root (no array indices, no map keys); outside any struct: `into Go value of type T`;
 * - a number that does not fit an integer field is `number <literal as written>`, anything else is the
 *   JSON kind (`string`, `number`, `bool`, `array`, `object`);
 * - object keys match fields exactly first, then case-insensitively (Go's foldName); unknown keys are
 *   ignored (and reported to the caller, for the emulator's own warning);
 * - `null` leaves a scalar untouched and clears a pointer, slice or map;
 * - a repeated key decodes into what the earlier one left (structs merge, maps keep entries).
 *
 * The input is the first JSON value of the body, already checked for syntax by json-scan.ts.
 * Pure: no I/O. The code is our own, written from the behaviour of Go's encoding/json.
 */

export type GoType =
  | { kind: 'string'; name: string }
  | { kind: 'int'; name: string; bits: 32 | 64 }
  | { kind: 'bool'; name: string }
  | { kind: 'slice'; elem: GoType }
  | { kind: 'map'; elem: GoType }
  | { kind: 'struct'; name: string; fields: Record<string, GoType> }
  | { kind: 'ptr'; elem: GoType }
  /** A value the emulator does not model (named for error texts); any JSON is accepted as is. */
  | { kind: 'opaque'; name: string };

export const goString = (name = 'string'): GoType => ({ kind: 'string', name });
export const goInt32: GoType = { kind: 'int', name: 'int32', bits: 32 };
export const goInt: GoType = { kind: 'int', name: 'int', bits: 64 };
export const goBool: GoType = { kind: 'bool', name: 'bool' };
export const goSlice = (elem: GoType): GoType => ({ kind: 'slice', elem });
export const goMap = (elem: GoType): GoType => ({ kind: 'map', elem });
export const goPtr = (elem: GoType): GoType => ({ kind: 'ptr', elem });
export const goStruct = (name: string, fields: Record<string, GoType>): GoType => ({ kind: 'struct', name, fields });
export const goOpaque = (name = 'interface {}'): GoType => ({ kind: 'opaque', name });

/** reflect.Type.String(): `pkg.Name`, `[]T`, `map[string]T`, `*T`. */
export function goTypeString(t: GoType): string {
  switch (t.kind) {
    case 'slice':
      return `[]${goTypeString(t.elem)}`;
    case 'map':
      return `map[string]${goTypeString(t.elem)}`;
    case 'ptr':
      return `*${goTypeString(t.elem)}`;
    default:
      return t.name;
  }
}

/** reflect.Type.Name(): the struct's name without its package. */
const structShortName = (t: Extract<GoType, { kind: 'struct' }>) => t.name.slice(t.name.lastIndexOf('.') + 1);

export class GoJsonTypeError extends Error {}

/** Unknown keys past this many get no did-you-mean (each costs an edit distance per field). */
const MAX_SUGGESTIONS = 10;

/** A key that matched no field: its path (`egress.trafficRules[0].cidr`) and the closest field name, if one is close. */
export interface UnknownField {
  path: string;
  didYouMean?: string;
}

export interface GoDecodeResult {
  value: unknown;
  /** Keys that matched no field, in document order. */
  unknownFields: UnknownField[];
}

/** Edit distance (insert, delete, substitute), case-insensitive. */
function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[y.length]!;
}

/** The field a misspelled key most likely meant: within two edits, and closer than any other field. */
function closestField(key: string, fields: readonly string[]): string | undefined {
  if (key.length > 64) return undefined;
  let best: string | undefined;
  let bestDistance = 3;
  for (const f of fields) {
    const d = editDistance(key, f);
    if (d < bestDistance) {
      best = f;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Go's foldName for the ASCII field names we have: ASCII letters uppercased; the four non-ASCII runes
 * whose simple case folding reaches ASCII (ſ, K Kelvin sign, İ, ı) become their ASCII letter.
 */
function foldKey(key: string): string {
  let out = '';
  for (const ch of key) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x80) out += c >= 0x61 && c <= 0x7a ? String.fromCharCode(c - 0x20) : ch;
    else if (c === 0x17f) out += 'S';
    else if (c === 0x212a) out += 'K';
    else if (c === 0x130 || c === 0x131) out += 'I';
    else out += ch;
  }
  return out;
}

/** Go's zero value of a type, for a slice element that `null` left untouched. */
function zeroValue(t: GoType): unknown {
  switch (t.kind) {
    case 'string':
      return '';
    case 'int':
      return 0;
    case 'bool':
      return false;
    case 'struct':
      return {};
    default:
      return null;
  }
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** Lone UTF-16 surrogates (from `\ud800` escapes) become U+FFFD, as Go's unquote does. */
const fixSurrogates = (s: string) => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

class Decoder {
  private pos = 0;
  private structType: Extract<GoType, { kind: 'struct' }> | undefined;
  private readonly fieldStack: string[] = [];
  /** Human path for unknown-field reports: field names and [index]. */
  private readonly path: string[] = [];
  readonly unknown: UnknownField[] = [];

  constructor(private readonly text: string) {}

  private fail(jsonKind: string, t: GoType): never {
    const type = goTypeString(t);
    if (this.structType || this.fieldStack.length > 0) {
      const struct = this.structType ? structShortName(this.structType) : '';
      throw new GoJsonTypeError(`json: cannot unmarshal ${jsonKind} into Go struct field ${struct}.${this.fieldStack.join('.')} of type ${type}`);
    }
    throw new GoJsonTypeError(`json: cannot unmarshal ${jsonKind} into Go value of type ${type}`);
  }

  private ws(): void {
    while (this.pos < this.text.length && isSpace(this.text.charCodeAt(this.pos))) this.pos++;
  }

  private peek(): string {
    this.ws();
    return this.text[this.pos] ?? '';
  }

  private readString(): string {
    const start = this.pos;
    this.pos++; // opening quote
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos];
      if (ch === '\\') this.pos += 2;
      else if (ch === '"') break;
      else this.pos++;
    }
    this.pos++; // closing quote
    return fixSurrogates(JSON.parse(this.text.slice(start, this.pos)) as string);
  }

  /** A number, true, false or null: its text. */
  private readLiteral(): string {
    const start = this.pos;
    while (this.pos < this.text.length && /[-+.0-9a-zA-Z]/.test(this.text[this.pos]!)) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** Skips one value without recursion (arrays and objects may nest 10,000 deep). */
  private skip(): void {
    this.ws();
    let depth = 0;
    do {
      this.ws();
      const ch = this.text[this.pos];
      if (ch === '"') this.readString();
      else if (ch === '{' || ch === '[') {
        depth++;
        this.pos++;
      } else if (ch === '}' || ch === ']') {
        depth--;
        this.pos++;
      } else if (ch === ',' || ch === ':') this.pos++;
      else this.readLiteral();
    } while (depth > 0 && this.pos < this.text.length);
  }

  private kindOf(ch: string): string {
    if (ch === '"') return 'string';
    if (ch === '{') return 'object';
    if (ch === '[') return 'array';
    if (ch === 't' || ch === 'f') return 'bool';
    return 'number';
  }

  /** Decodes one value into type `t`, starting from what an earlier occurrence left (`existing`). */
  value(t: GoType, existing: unknown): unknown {
    const ch = this.peek();
    if (t.kind === 'opaque') {
      const start = this.pos;
      this.skip();
      return JSON.parse(this.text.slice(start, this.pos)) as unknown;
    }
    if (ch === 'n') {
      this.readLiteral();
      // null clears pointers, slices and maps; scalars and non-pointer structs keep their value.
      return t.kind === 'ptr' || t.kind === 'slice' || t.kind === 'map' ? undefined : existing;
    }
    if (t.kind === 'ptr') return this.value(t.elem, existing);
    switch (t.kind) {
      case 'string':
        if (ch !== '"') return this.mismatch(ch, t);
        return this.readString();
      case 'bool':
        if (ch !== 't' && ch !== 'f') return this.mismatch(ch, t);
        return this.readLiteral() === 'true';
      case 'int': {
        if (ch === '"' || ch === '{' || ch === '[' || ch === 't' || ch === 'f') return this.mismatch(ch, t);
        const literal = this.readLiteral();
        if (!/^-?[0-9]+$/.test(literal)) this.fail(`number ${literal}`, t);
        const n = BigInt(literal);
        const limit = 1n << BigInt(t.bits - 1);
        if (n < -limit || n >= limit) this.fail(`number ${literal}`, t);
        return Number(n);
      }
      case 'slice': {
        if (ch !== '[') return this.mismatch(ch, t);
        const previous = Array.isArray(existing) ? existing : [];
        const out: unknown[] = [];
        if (this.openEmpty(']')) return out;
        for (let i = 0; ; i++) {
          this.path.push(`[${i}]`);
          // An element is always there: `null` (or nothing decoded) leaves Go's zero value.
          out.push(this.value(t.elem, previous[i]) ?? zeroValue(t.elem));
          this.path.pop();
          if (this.closes(']')) return out;
        }
      }
      case 'map': {
        if (ch !== '{') return this.mismatch(ch, t);
        const out: Record<string, unknown> = existing && typeof existing === 'object' ? { ...(existing as Record<string, unknown>) } : {};
        if (this.openEmpty('}')) return out;
        for (;;) {
          const key = this.readKey();
          // Go decodes each map value into a fresh element; the key is not part of the error path.
          const v = this.value(t.elem, undefined);
          Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
          if (this.closes('}')) return out;
        }
      }
      case 'struct':
        return this.struct(t, ch, existing);
    }
  }

  /** Steps over an opening bracket; true (and over the closing one) when the container is empty. */
  private openEmpty(close: ']' | '}'): boolean {
    this.pos++;
    if (this.peek() !== close) return false;
    this.pos++;
    return true;
  }

  /** Steps over the `,` or closing bracket after an element; true when it closed the container. */
  private closes(close: ']' | '}'): boolean {
    const next = this.peek();
    this.pos++;
    return next === close;
  }

  private mismatch(ch: string, t: GoType): never {
    const kind = this.kindOf(ch);
    return this.fail(kind, t);
  }

  private readKey(): string {
    this.peek();
    const key = this.readString();
    this.peek();
    this.pos++; // ':'
    return key;
  }

  private struct(t: Extract<GoType, { kind: 'struct' }>, ch: string, existing: unknown): unknown {
    if (ch !== '{') return this.mismatch(ch, t);
    const out: Record<string, unknown> = existing && typeof existing === 'object' && !Array.isArray(existing) ? { ...(existing as Record<string, unknown>) } : {};
    const folded = new Map(Object.keys(t.fields).map((name) => [foldKey(name), name] as const));
    if (this.openEmpty('}')) return out;
    for (;;) {
      const key = this.readKey();
      const field = Object.hasOwn(t.fields, key) ? key : folded.get(foldKey(key));
      if (field === undefined) {
        // Suggestions only for the first few (the ones a warning names): a body may hold many keys.
        const didYouMean = this.unknown.length < MAX_SUGGESTIONS ? closestField(key, Object.keys(t.fields)) : undefined;
        this.unknown.push({ path: [...this.path, this.path.length ? `.${key}` : key].join(''), ...(didYouMean ? { didYouMean } : {}) });
        this.skip();
      } else {
        const savedStruct = this.structType;
        this.structType = t;
        this.fieldStack.push(field);
        this.path.push(this.path.length ? `.${field}` : field);
        const v = this.value(t.fields[field]!, out[field]);
        this.path.pop();
        this.fieldStack.pop();
        this.structType = savedStruct;
        if (v === undefined) delete out[field];
        else out[field] = v;
      }
      if (this.closes('}')) return out;
    }
  }
}

/**
 * Decodes `text` (one syntactically valid JSON value) into Go type `t`. Throws GoJsonTypeError with
 * encoding/json's message for the first value that does not fit.
 */
export function decodeGoJson(text: string, t: GoType): GoDecodeResult {
  const decoder = new Decoder(text);
  const value = decoder.value(t, undefined);
  return { value, unknownFields: decoder.unknown };
}
