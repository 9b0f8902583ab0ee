// Which Stratus a benchmark starts. By default this checkout's bin/stratus.js. For a before/after
// on one machine with one set of bench scripts:
//   STRATUS_BENCH_ROOT=DIR      start DIR's bin/stratus.js (another checkout, e.g. `git archive`d)
//   STRATUS_BENCH_SERVICES=a,b  keep only these services of the root's src/services.ts (identity
//                               always runs): the root is bundled with esbuild as bin/stratus.js
//                               does, from an entry that first drops the others from SERVICES
//                               (where a service's code is imported only when it starts, as in
//                               src/services.ts since the re-layout, the others are never loaded)
//   STRATUS_BENCH_FILE=FILE     run FILE (a bundle made beforehand, e.g. to read a profile's lines
//                               against it) instead of bundling; the root is still the working directory
// bench/instructions.ts takes the same as --root and --services.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Target {
  /** The checkout (the process's working directory). */
  root: string;
  /** The program to run with node. */
  file: string;
  /** Removes the bundle made for `services`, if any. */
  cleanup(): void;
}

/** The root and the program: STRATUS_BENCH_ROOT / STRATUS_BENCH_SERVICES unless given. */
export function stratusTarget(
  root = process.env.STRATUS_BENCH_ROOT || HERE,
  services = process.env.STRATUS_BENCH_SERVICES ?? '',
): Target {
  root = path.resolve(root);
  if (process.env.STRATUS_BENCH_FILE) return { root, file: process.env.STRATUS_BENCH_FILE, cleanup: () => undefined };
  if (!services) return { root, file: path.join(root, 'bin/stratus.js'), cleanup: () => undefined };
  const keep = services.split(',').map((x) => x.trim());
  const dist = path.join(root, 'dist');
  fs.mkdirSync(dist, { recursive: true });
  const tag = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const entry = path.join(dist, `bench-entry-${tag}.ts`);
  // In the root's dist/, so that its packages resolve as the real bundle's do.
  const file = path.join(dist, `bench-stratus-${tag}.mjs`);
  fs.writeFileSync(
    entry,
    [
      `import { SERVICES } from ${JSON.stringify(path.join(root, 'src/services.ts'))};`,
      `const keep = new Set(${JSON.stringify(keep)});`,
      'const known = SERVICES.map((s) => s.name);',
      'for (const k of keep) if (!known.includes(k)) throw new Error(`no service ${k} (${known.join(", ")})`);',
      'for (let i = SERVICES.length - 1; i >= 0; i--) if (!keep.has(SERVICES[i].name)) SERVICES.splice(i, 1);',
      `await import(${JSON.stringify(path.join(root, 'src/cli.ts'))});`,
      '',
    ].join('\n'),
  );
  try {
    // esbuild from the root's own packages, as its bin/stratus.js would use; its buildSync without
    // a worker thread (read when esbuild is loaded), whose service process would stay alive
    // beside the benchmark until it exits.
    const workers = process.env.ESBUILD_WORKER_THREADS;
    process.env.ESBUILD_WORKER_THREADS = '0';
    const esbuild = requireFrom(root, 'esbuild') as typeof import('esbuild');
    if (workers === undefined) delete process.env.ESBUILD_WORKER_THREADS;
    else process.env.ESBUILD_WORKER_THREADS = workers;
    esbuild.buildSync({
      entryPoints: [entry],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      // As bin/stratus.js: the map in a file beside the bundle (an inline one is read at every start).
      sourcemap: 'linked',
      logLevel: 'error',
    });
  } finally {
    fs.rmSync(entry, { force: true });
  }
  return {
    root,
    file,
    cleanup: () => {
      fs.rmSync(file, { force: true });
      fs.rmSync(`${file}.map`, { force: true });
    },
  };
}

function requireFrom(root: string, name: string): unknown {
  return createRequire(path.join(root, 'package.json'))(name);
}
