/**
 * The app's version, read from package.json (one source: `npm version` changes it). The path holds from
 * src/engine (tsx) and dist/engine (built), both two levels below the package root.
 */
import { readFileSync } from 'node:fs';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
