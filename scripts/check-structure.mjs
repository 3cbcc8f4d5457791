#!/usr/bin/env node
/**
 * Structure check: no function in src/ longer than MAX_LINES lines, except the ones listed below with
 * a reason. A factory closure counts as a whole (its inner functions are counted on their own too),
 * so a big `createX()` has to be split into smaller functions or modules.
 *
 * Usage: node scripts/check-structure.mjs [root]   (exit 1 when a function is too long)
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const MAX_LINES = 80;

/** `path/from/repo/root.ts:functionName` → why it may be longer. */
export const EXCEPTIONS = new Map(
  /** @type {[string, string][]} */ ([
    // None today. A function may be listed here only with the reason it cannot be split.
  ]),
);

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The name a function is known by: its own, or the variable / property it is assigned to. */
function functionName(node) {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent))) return parent.name.getText();
  return '<anonymous>';
}

/** Every function-like node with a body in `root` (relative to `base`) longer than `maxLines`. */
export function longFunctions(base, root = 'src', maxLines = MAX_LINES) {
  const found = [];
  for (const file of walk(path.join(base, root))) {
    const rel = path.relative(base, file).split(path.sep).join('/');
    const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isFunctionLike(node) && node.body) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart()).line + 1;
        const end = sf.getLineAndCharacterOfPosition(node.end).line + 1;
        const lines = end - start + 1;
        if (lines > maxLines) found.push({ key: `${rel}:${functionName(node)}`, file: rel, start, end, lines });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found.sort((a, b) => b.lines - a.lines);
}

function main() {
  const base = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const root = process.argv[2] ?? 'src';
  const long = longFunctions(base, root);
  const violations = long.filter((f) => !EXCEPTIONS.has(f.key));
  const seen = new Set(long.map((f) => f.key));
  for (const key of EXCEPTIONS.keys()) {
    // A stale exception would let the function grow back unnoticed.
    if (!seen.has(key)) violations.push({ file: key.split(':')[0], start: 0, end: 0, lines: 0, key, stale: true });
  }
  for (const f of violations) {
    if ('stale' in f) console.error(`${f.key}: listed in EXCEPTIONS but at most ${MAX_LINES} lines (or gone); remove the entry`);
    else console.error(`${f.file}:${f.start}-${f.end} ${f.key.slice(f.file.length + 1)}: ${f.lines} lines (max ${MAX_LINES})`);
  }
  if (violations.length > 0) {
    console.error(`${violations.length} function(s) over ${MAX_LINES} lines; split them, or list them in EXCEPTIONS with a reason`);
    process.exit(1);
  }
  console.log(`structure ok: no function over ${MAX_LINES} lines outside ${EXCEPTIONS.size} listed exception(s)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
