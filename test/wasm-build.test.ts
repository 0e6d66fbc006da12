import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assembleWat, wasmModuleSource } from '../tools/wasm-assemble.js';

const dir = fileURLToPath(new URL('../src/engine/wasm-kernels/', import.meta.url));

describe('hand-written wasm kernels', () => {
  const sources = readdirSync(dir).filter((f) => f.endsWith('.wat'));

  it('exist', () => assert.ok(sources.length > 0));

  for (const file of sources) {
    it(`${file}: the committed bytes are the assembly of the committed text (else run tools/build-wasm.ts)`, async () => {
      const built = wasmModuleSource(file, await assembleWat(file, readFileSync(`${dir}/${file}`, 'utf8')));
      assert.equal(readFileSync(`${dir}/${file.replace(/\.wat$/, '.wasm.ts')}`, 'utf8'), built);
    });
  }
});
