/**
 * Assembles the hand-written wasm kernels (src/engine/wasm-kernels/*.wat) into TypeScript modules
 * holding their bytes (<name>.wasm.ts), so that neither the app nor its build needs an assembler.
 *
 *   node --import tsx tools/build-wasm.ts           # rewrite every <name>.wasm.ts
 *   node --import tsx tools/build-wasm.ts --check   # exit 1 if any is out of date with its .wat
 *
 * test/wasm-build.test.ts runs the same comparison, so a .wat edited without a rebuild fails the tests.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assembleWat, wasmModuleSource } from './wasm-assemble.js';

const dir = fileURLToPath(new URL('../src/engine/wasm-kernels/', import.meta.url));
const check = process.argv.includes('--check');
let stale = 0;
for (const file of readdirSync(dir).filter((f) => f.endsWith('.wat'))) {
  const target = join(dir, file.replace(/\.wat$/, '.wasm.ts'));
  const source = wasmModuleSource(file, await assembleWat(file, readFileSync(join(dir, file), 'utf8')));
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // not built yet
  }
  if (current === source) continue;
  if (check) {
    console.error(`${target} is out of date with ${file}: run node --import tsx tools/build-wasm.ts`);
    stale++;
  } else {
    writeFileSync(target, source);
    console.log(`wrote ${target}`);
  }
}
process.exitCode = stale ? 1 : 0;
