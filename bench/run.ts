// Benchmark runner: `npm run bench -- <area> [<area> ...] [options]`.
// Each area is bench/<area>.ts exporting run(options). No area: every area.
// Options (--x, --x=y) are passed to each area. Reports go to bench/reports/.
const AREAS: Record<string, { describe: string; load: () => Promise<{ run(args: string[]): Promise<void> }> }> = {
  identity: {
    describe: 'token issue and validation: Stratus vs Keystone (Debian) vs a bare node:http server; start-up and RSS',
    load: () => import('./identity.ts'),
  },
  image: {
    describe:
      'image create, upload and download (1 MiB, 100 MiB, 2 GiB) vs raw copies and a bare node:http server; peak RSS',
    load: () => import('./image.ts'),
  },
  object: {
    describe:
      'object-store streaming PUT/GET (1 MiB, 100 MiB, 2 GiB) and 1 KiB objects/s vs raw copies and a bare node:http server; peak RSS',
    load: () => import('./object.ts'),
  },
  network: {
    describe:
      'port creates (sequential, 32 concurrent) on a /16 and the no-duplicate-IP proof, port lists with 10,000 ports, 1,000 security group rules; peak RSS',
    load: () => import('./network.ts'),
  },
  'network-dataplane': {
    describe:
      'linuxbridge data plane (root): TCP throughput guest↔guest on one host and across two hosts over VXLAN vs bare veth/VXLAN, 100 ports wired, a rule change applied',
    load: () => import('./network-dataplane.ts'),
  },
  compute: {
    describe:
      'create-to-ACTIVE latency (fake driver), 1,000 servers in batches of 50, /servers/detail with 10,000 servers, allocation candidates with 1,000 providers; peak RSS',
    load: () => import('./compute.ts'),
  },
  'compute-libvirt': {
    describe:
      'real guests (root; also `compute --driver libvirt`): boot to ACTIVE and to SSH vs qemu and virsh by hand, N guests at once (RSS), 1 GiB snapshot vs qemu-img',
    load: () => import('./compute-libvirt.ts'),
  },
  'block-storage': {
    describe:
      'volume create→available vs qemu-img create, attach/detach via compute, /volumes/detail with 1,000 volumes, backup/restore MB/s vs object PUT/GET and dd; peak RSS',
    load: () => import('./block-storage.ts'),
  },
  'block-storage-side': {
    describe:
      "the volume API side by side with Debian's cinder-api (noauth, SQLite, 1 worker): show, list, detail, create at c=1 and c=8; the bare node:http limit",
    load: () => import('./block-storage-side.ts'),
  },
  telemetry: {
    describe:
      'Gnocchi measures/s through the batch API, an aggregates query over 1,000 resources × a day of minutes, one Aodh round of 1,000 alarms; peak RSS',
    load: () => import('./telemetry.ts'),
  },
  orchestration: {
    describe:
      'stack create/delete of 1 and 50 resources (vs the direct API calls), 1,000 random strings in one stack, a stack list with 1,000 stacks; peak RSS',
    load: () => import('./orchestration.ts'),
  },
  'orchestration-side': {
    describe:
      "Heat side by side with Debian's heat-api + heat-engine (Zed, 1 worker each, RabbitMQ): stack list/show/validate at c=1 and c=8, 1,000 random strings, 20 stacks at once; RSS",
    load: () => import('./orchestration-side.ts'),
  },
};

function usage(): string {
  return [
    'usage: npm run bench -- [area ...] [options]',
    'areas:',
    ...Object.entries(AREAS).map(([name, a]) => `  ${name.padEnd(10)} ${a.describe}`),
  ].join('\n');
}

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(usage());
  process.exit(0);
}
// `compute --driver libvirt` is the compute-libvirt area (real guests instead of the fake driver).
const driverAt = argv.findIndex((a) => a === '--driver' || a.startsWith('--driver='));
if (driverAt >= 0) {
  const driver = argv[driverAt]!.includes('=') ? argv[driverAt]!.split('=')[1] : argv[driverAt + 1];
  argv.splice(driverAt, argv[driverAt]!.includes('=') ? 1 : 2);
  if (driver !== 'libvirt' && driver !== 'fake') {
    console.error(`unknown compute driver ${driver} (fake or libvirt)`);
    process.exit(2);
  }
  if (driver === 'libvirt') argv.splice(argv.indexOf('compute'), argv.includes('compute') ? 1 : 0, 'compute-libvirt');
}
const areas = argv.filter((a) => !a.startsWith('-'));
const options = argv.filter((a) => a.startsWith('-'));
const unknown = areas.filter((a) => !(a in AREAS));
if (unknown.length) {
  console.error(`unknown benchmark area${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}\n${usage()}`);
  process.exit(2);
}
let failed = false;
for (const name of areas.length ? areas : Object.keys(AREAS)) {
  try {
    const mod = await AREAS[name]!.load();
    await mod.run(options);
  } catch (e) {
    failed = true;
    console.error(`bench ${name} failed: ${(e as Error).stack ?? e}`);
  }
}
process.exit(failed ? 1 : 0);
