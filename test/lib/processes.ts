// The Stratus processes of a multi-process test: `stratus start` with some roles on a shared data
// directory (each with its own log file), with the caller's STRATUS_* environment removed so that
// only the arguments and the data directory's config file count.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './cloud.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Starts `name` and resolves once it says it runs (it is added to `procs` at once, for clean-up). */
export async function startStratusProcess(
  procs: Map<string, ChildProcess>,
  dataDir: string,
  name: string,
  args: string[],
): Promise<ChildProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, STRATUS_USER_CLOUDS: '0' };
  for (const k of Object.keys(env))
    if (/^STRATUS_(DATABASE|TRANSPORT|BUS|ROLE|PORT|HOST|DATA_DIR|CONFIG)$/.test(k)) delete env[k];
  const p = spawn(
    process.execPath,
    [
      path.join(ROOT, 'bin', 'stratus.js'),
      'start',
      '--data-dir',
      dataDir,
      '--log-file',
      path.join(dataDir, `${name}.log`),
      ...args,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  procs.set(name, p);
  let out = '';
  p.stdout!.on('data', (d) => {
    out += d;
  });
  p.stderr!.on('data', (d) => {
    out += d;
  });
  await until(
    `${name} to start`,
    async () => {
      if (p.exitCode !== null) throw new Error(`${name} exited (${p.exitCode}): ${out}`);
      return /is running/.test(out);
    },
    180_000,
  );
  return p;
}
