// Start-up probe: `stratus start` on a fresh data directory (a first start), the time from spawn
// to the first 200 of /identity/v3 and to clouds.yaml (the DevStack world built), then the same
// data directory started again (a restart); CPU time of the server process at both points and
// its RSS. Runs STRATUS_BENCH_ROOT / STRATUS_BENCH_SERVICES as every bench does (lib/target.ts).
//
//   node --import tsx bench/startup-probe.ts [--runs=N] [--cpu-prof=DIR] [--bare]
// (--bare: `stratus start --bare`, no DevStack world: clouds.yaml is then written at once, as a
// tree from before the world wrote it.)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { procCpuMs, procStatusKb, stopAll } from './lib/proc.ts';
import { sleep } from './lib/proc.ts';
import { startStratus } from './lib/stratus.ts';
import { stratusTarget } from './lib/target.ts';

const args = process.argv.slice(2);
const runs = Number(args.find((a) => a.startsWith('--runs='))?.slice(7) ?? 1);
const prof = args.find((a) => a.startsWith('--cpu-prof='))?.slice(11);
const nodeArgs = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [];
const startArgs = args.includes('--bare') ? ['--bare'] : [];

// Bundled once (STRATUS_BENCH_SERVICES), not in the timed starts.
const target = stratusTarget();
process.on('exit', () => target.cleanup());
for (let i = 0; i < runs; i++) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-startup-'));
  const logFile = `${dataDir}.log`;
  try {
    for (const kind of ['first', 'restart']) {
      const t0 = performance.now();
      const st = await startStratus({ dataDir, logFile, nodeArgs, target, args: startArgs });
      const ready = performance.now() - t0;
      const cpu = procCpuMs(st.server.pid);
      await sleep(1000);
      const rss = procStatusKb(st.server.pid, 'VmRSS') / 1024;
      console.log(
        `${kind}: first 200 ${st.startupMs.toFixed(0)} ms, clouds.yaml ${ready.toFixed(0)} ms, CPU then ${cpu.toFixed(0)} ms, RSS 1 s later ${rss.toFixed(0)} MB`,
      );
      await st.server.stop();
    }
  } finally {
    await stopAll();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(logFile, { force: true });
  }
}
