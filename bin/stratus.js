#!/usr/bin/env node
// The `stratus` command. The TypeScript sources are bundled once with esbuild into
// dist/stratus.mjs (rebuilt whenever a source is newer), so that a start does not pay for
// compiling TypeScript nor keep a compiler process alive. Each service's code is imported when
// a process starts it (src/services.ts): esbuild keeps those modules in the bundle but
// evaluates them only then. The source map is a file beside the bundle (dist/stratus.mjs.map),
// not inline: an inline map doubles the source V8 reads and keeps at every start (6+ MB), while
// Node reads the file only when asked to (`NODE_OPTIONS=--enable-source-maps` for stack traces
// in the TypeScript sources).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'stratus.mjs');

function newestSource(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

let built = 0;
try {
  built = fs.statSync(out).mtimeMs;
} catch {
  /* not built yet */
}
if (built < Math.max(newestSource(path.join(root, 'src')), fs.statSync(path.join(root, 'package.json')).mtimeMs)) {
  const esbuild = await import('esbuild');
  // Built aside and renamed into place: processes started together (the roles of a multi-node
  // cloud) never load a half-written bundle.
  const tmp = `${out}.${process.pid}.tmp`;
  const { outputFiles } = await esbuild.build({
    entryPoints: [path.join(root, 'src', 'cli.ts')],
    outfile: out,
    write: false,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'error',
  });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  // The map first, so that the bundle that names it never appears without it.
  for (const f of [...outputFiles].sort((a, b) => Number(b.path.endsWith('.map')) - Number(a.path.endsWith('.map')))) {
    fs.writeFileSync(tmp, f.contents);
    fs.renameSync(tmp, f.path);
  }
  // esbuild's service process (~170 MB) would otherwise live as long as this one, waiting for
  // more builds. (The async API: buildSync runs in a worker thread whose service child, once the
  // worker is stopped, is never reaped.)
  await esbuild.stop();
}
await import(pathToFileURL(out).href);
