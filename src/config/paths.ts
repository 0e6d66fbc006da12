/** Where things live: the package's shipped checkpoints, and this user's settings and trained checkpoints. */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root directory (src/config and dist/config both sit two levels below it). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The checkpoint that ships with the package. */
export const SHIPPED_CHECKPOINT = path.join(PACKAGE_ROOT, 'checkpoints', 'cvae');

/** The classifier `eval` judges samples with, shipped with the package. */
export const SHIPPED_CLASSIFIER = path.join(PACKAGE_ROOT, 'checkpoints', 'classifier');

/** Where the settings file lives: CVAE_REPL_CONFIG_DIR, else the platform's user config dir. */
export function userConfigDir(env: Readonly<Record<string, string | undefined>> = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.CVAE_REPL_CONFIG_DIR) return path.resolve(env.CVAE_REPL_CONFIG_DIR);
  const home = os.homedir();
  if (platform === 'darwin') return path.join(home, 'Library', 'Preferences', 'cvae-repl');
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'cvae-repl', 'Config');
  return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'cvae-repl');
}

/** Where this user's data lives (trained checkpoints): CVAE_REPL_DATA_DIR, else the platform's user data dir. */
export function userDataDir(env: Readonly<Record<string, string | undefined>> = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.CVAE_REPL_DATA_DIR) return path.resolve(env.CVAE_REPL_DATA_DIR);
  const home = os.homedir();
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'cvae-repl');
  if (platform === 'win32') return path.join(env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'), 'cvae-repl', 'Data');
  return path.join(env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'cvae-repl');
}

/** Where `train` / `--train` writes unless --checkpoint says otherwise: never the shipped checkpoint. */
export function defaultTrainDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return path.join(userDataDir(env), 'checkpoints', 'cvae');
}
