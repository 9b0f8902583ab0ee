/**
 * Fernet key repository, laid out and rotated exactly like Keystone's
 * `keystone.common.fernet_utils.FernetUtils` so that a repository can be
 * shared (or synced) between Keystone and Stratus nodes.
 *
 * A repository is a directory of files named by integers, each holding one
 * urlsafe-base64 Fernet key:
 *
 *   0        the staged key: the *next* primary; already accepted for decryption
 *   1..N-1   secondary keys: accepted for decryption
 *   N        (highest number) the primary key: used for encryption
 *
 * Rotation promotes the staged key 0 to number N+1, writes a new staged key 0
 * (via `0.tmp` + rename) and deletes the lowest-numbered keys until at most
 * `maxActiveKeys` keys remain (0 included). Key files are mode 0600; a
 * directory created here is mode 0700.
 */
import {
  accessSync,
  closeSync,
  constants as fsc,
  existsSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { decodeFernetKey, encodeFernetKey, generateFernetKey } from './fernet.ts';

export const DEFAULT_MAX_ACTIVE_KEYS = 3;

const STAGED = '0';
const STAGED_TMP = '0.tmp';

export class KeyRepository {
  readonly dir: string;
  readonly maxActiveKeys: number;

  constructor(dir: string, maxActiveKeys: number = DEFAULT_MAX_ACTIVE_KEYS) {
    if (!Number.isInteger(maxActiveKeys) || maxActiveKeys < 1) {
      throw new RangeError('maxActiveKeys must be an integer >= 1');
    }
    this.dir = dir;
    this.maxActiveKeys = maxActiveKeys;
  }

  /**
   * `keystone-manage fernet_setup`: create the directory (0700) if needed and,
   * unless a staged key 0 already exists, create key 0 and rotate once, which
   * leaves primary key 1 and staged key 0.
   */
  setup(): void {
    if (!existsSync(this.dir)) mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    if (existsSync(join(this.dir, STAGED))) return;
    this.writeStagedTmp();
    renameSync(join(this.dir, STAGED_TMP), join(this.dir, STAGED));
    this.rotate();
  }

  /** `keystone-manage fernet_rotate`. Requires an initialised repository. */
  rotate(): void {
    const files = this.keyFiles();
    if (!files.has(0)) {
      throw new Error(`Fernet key repository ${this.dir} has no staged key 0; run setup() first`);
    }
    this.writeStagedTmp();
    const newPrimary = Math.max(...files.keys()) + 1;
    const newPrimaryPath = join(this.dir, String(newPrimary));
    renameSync(join(this.dir, STAGED), newPrimaryPath);
    files.delete(0);
    files.set(newPrimary, newPrimaryPath);
    renameSync(join(this.dir, STAGED_TMP), join(this.dir, STAGED));

    // Purge the oldest keys; `files` holds the non-staged keys only.
    const ids = [...files.keys()].sort((a, b) => b - a);
    while (ids.length > this.maxActiveKeys - 1) {
      unlinkSync(files.get(ids.pop()!)!);
    }
  }

  /**
   * All keys as 32-byte buffers, primary (highest number) first and the staged
   * key 0 last. Returns [] if the directory is missing or unreadable, like
   * Keystone. Empty key files are ignored; a malformed key throws.
   */
  load(): Buffer[] {
    try {
      accessSync(this.dir, fsc.R_OK | fsc.X_OK);
    } catch {
      return [];
    }
    const files = this.keyFiles();
    const ids = [...files.keys()].sort((a, b) => b - a);
    const keys: Buffer[] = [];
    for (const id of ids) {
      const path = files.get(id)!;
      const text = readFileSync(path, 'utf8');
      if (text.length === 0) continue;
      try {
        keys.push(decodeFernetKey(text));
      } catch (err) {
        throw new Error(`Invalid Fernet key in ${path}: ${(err as Error).message}`);
      }
    }
    return keys;
  }

  /** Key files by number (regular files with an all-digit name). */
  private keyFiles(): Map<number, string> {
    const files = new Map<number, string>();
    for (const name of readdirSync(this.dir)) {
      if (!/^[0-9]+$/.test(name)) continue;
      const path = join(this.dir, name);
      let isFile: boolean;
      try {
        isFile = statSync(path).isFile();
      } catch {
        continue;
      }
      if (!isFile) continue;
      // Keystone skips empty files when listing (so they are never promoted
      // or counted), but only by reading them; mirror that.
      if (statSync(path).size === 0) continue;
      files.set(Number.parseInt(name, 10), path);
    }
    return files;
  }

  /** Write a new random key to `0.tmp` with mode 0600. */
  private writeStagedTmp(): void {
    const path = join(this.dir, STAGED_TMP);
    const fd = openSync(path, 'w', 0o600);
    let ok = false;
    try {
      fchmodSync(fd, 0o600);
      writeSync(fd, encodeFernetKey(generateFernetKey()));
      fsyncSync(fd);
      ok = true;
    } finally {
      closeSync(fd);
      if (!ok) {
        try {
          unlinkSync(path);
        } catch {
          /* ignore */
        }
      }
    }
  }
}
