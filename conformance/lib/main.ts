// `npm run conformance -- <area|regex> [options]`: Debian's tempest against a Stratus, and a report.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AREAS, packagesFor, resolveSelection, type Selection } from './areas.ts';
import { addToPassingList, includeListFor, judgeRegression, readPassingList } from './passing.ts';
import { buildReport, perTestEntries, writeReport } from './report.ts';
import { selectSinceBaseline } from './select.ts';
import {
  DEVSTACK_SECURITY_COMPLIANCE,
  fetchCatalog,
  freePort,
  readCloudsYaml,
  startStratus,
  waitFor200,
  type StartedStratus,
} from './stratus.ts';
import { collectResults, parseSubunit, requestLinesByCaller } from './subunit.ts';
import { networkEndpoint, prepareNetwork, type NetworkFacts } from './network.ts';
import { claimPublicRange, type PublicRange } from './public-range.ts';
import { prepareCompute, serviceEndpoint, TEMPEST_IMAGES, tinyQcow2, type ComputeFacts } from './compute.ts';
import { buildTempestConfig, parseOverride, renderIni, type SecureRbacMode } from './tempest-config.ts';
import { cleanupLibvirtHost, linkLibvirtHosts, prepareGuest, registerTempestGuest } from './libvirt.ts';
import type { GuestFiles } from '../../src/compute/guest/build.ts';
import { TestCeph, cephUnavailable } from '../../test/lib/ceph.ts';
import {
  debianPackageVersion,
  ensureTempest,
  lastRunSubunit,
  listTests,
  prepareWorkspace,
  runTempest,
} from './tempest.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CONFORMANCE = path.join(REPO, 'conformance');
// STRATUS_CONFORMANCE_WORK lets two runs (say, two areas) use separate workspaces at once.
const WORK = process.env.STRATUS_CONFORMANCE_WORK
  ? path.resolve(process.env.STRATUS_CONFORMANCE_WORK)
  : path.join(CONFORMANCE, 'work');
const DEFAULT_PASSING = path.join(CONFORMANCE, 'passing.txt');
/** Where `--driver libvirt` builds and keeps the test guest. */
const GUEST_DIR = path.join(WORK, 'guest');

const USAGE = `Usage: npm run conformance -- <area|regex>... [options]
       npm run conformance -- --regression

Runs Debian's tempest against a Stratus and writes conformance/reports/<area>-<time>.{md,json}.

Areas: ${AREAS.map((a) => a.name).join(', ')}
(anything else is taken as a tempest test regex)

Options:
  --regression         run exactly the tests in conformance/passing.txt; exit 1 if any does not pass
  --update-passing     add the tests that passed to conformance/passing.txt
  --passing FILE       another kept list than conformance/passing.txt
  --url URL            test a Stratus already running at URL (e.g. http://127.0.0.1:8000)
                       instead of starting one; credentials from --clouds
  --clouds FILE        clouds.yaml with the admin credentials (with --url; default
                       $STRATUS_DATA_DIR/clouds.yaml or .stratus/clouds.yaml)
  --cloud NAME         the cloud in clouds.yaml (default stratus)
  --security-compliance  with --url: the cloud runs DevStack's lockout/password-history settings
  --secure-rbac        start Stratus with its secure RBAC switch (scope types and the new default
                       policies in every service) and tell tempest: [enforce_scope] <service> = true,
                       [identity-feature-enabled] enforce_scope = true (keystone's RBAC tests run);
                       tempest's projects share the 'shared' network, routed to 'public' by router-shared
  --secure-rbac=gate   Zed's gate shape: the cloud's switch on but identity.policy.enforceScope and
                       enforceNewDefaults off; tempest told [enforce_scope] nova/neutron/glance/
                       placement/cinder = true, keystone = false, [identity-feature-enabled]
                       enforce_scope = false; tempest's admin stays the project admin (compare a
                       --regression run with and without it: the kept list passes in both)
  --port N             port for the Stratus started here (default: a free one)
  --concurrency N      tempest workers (default 2)
  --set SECTION.KEY=VALUE  extra tempest.conf setting (repeatable)
  --dataplane NAME     the network data plane of the Stratus started here (logical, or
                       linuxbridge: real bridges and namespaces, needs root; removed at stop)
  --driver NAME        the compute driver of the Stratus started here: fake (default) or libvirt
                       (real guests under QEMU, with the linuxbridge data plane; tempest SSHes
                       into them: [validation] run_validation; needs root)
  --libvirt-hosts N    with --driver libvirt: 1 (default) or 2 compute hosts (tempest-lv and
                       tempest-lv-2, each its own namespace, libvirtd and instances path, joined
                       by an underlay veth for VXLAN): min_compute_nodes 2, so tempest's cold and
                       live migration tests run; both hosts are removed at the end
  --changed-since-baseline  in --regression mode, run only the kept tests that what changed since
                       the commit in conformance/ci-baseline can break (conformance/lib/select.ts:
                       a change in src/core or identity runs them all); CI uses it
  --retry-failed       in --regression mode, run the kept tests that failed once more (same cloud);
                       one that passes then is reported as FLAKY, not as a regression (for the
                       real-guest list, whose timings depend on a TCG guest on a shared host)
  --volume-driver NAME the block-storage driver of the Stratus started here: file (default) or rbd
                       (a private one-node Ceph is bootstrapped for the run and removed after it;
                       needs root and Debian's ceph-mon ceph-osd ceph-mgr ceph-common)
  --verbose            show tempest's whole output (always in conformance/work/tempest/run.log)
`;

interface Args {
  selections: string[];
  regression: boolean;
  updatePassing: boolean;
  url?: string;
  clouds?: string;
  cloud: string;
  securityCompliance: boolean;
  secureRbac?: SecureRbacMode;
  port?: number;
  concurrency: number;
  overrides: Record<string, Record<string, string>>;
  verbose: boolean;
  passing: string;
  dataplane?: string;
  driver?: string;
  libvirtHosts: number;
  retryFailed: boolean;
  changedSinceBaseline: boolean;
  volumeDriver?: string;
}

function parseArgs(argv: string[]): Args | 'help' {
  const a: Args = {
    selections: [],
    regression: false,
    updatePassing: false,
    cloud: 'stratus',
    securityCompliance: false,
    concurrency: 2,
    overrides: {},
    verbose: false,
    passing: DEFAULT_PASSING,
    retryFailed: false,
    changedSinceBaseline: false,
    libvirtHosts: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      a.selections.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const val = () => {
      const v = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new Error(`--${key} needs a value`);
      return v;
    };
    const int = (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${key} wants a positive integer`);
      return n;
    };
    switch (key) {
      case 'help':
        return 'help';
      case 'regression':
        a.regression = true;
        break;
      case 'update-passing':
        a.updatePassing = true;
        break;
      case 'url':
        a.url = val().replace(/\/+$/, '');
        break;
      case 'clouds':
        a.clouds = val();
        break;
      case 'cloud':
        a.cloud = val();
        break;
      case 'security-compliance':
        a.securityCompliance = true;
        break;
      case 'secure-rbac': {
        // A bare --secure-rbac takes no value (the next argument is an area or option).
        const mode = eq > 0 ? arg.slice(eq + 1) : 'all';
        if (mode !== 'all' && mode !== 'gate') throw new Error('--secure-rbac is --secure-rbac or --secure-rbac=gate');
        a.secureRbac = mode;
        break;
      }
      case 'port':
        a.port = int(val());
        break;
      case 'concurrency':
        a.concurrency = int(val());
        break;
      case 'set':
        parseOverride(val(), a.overrides);
        break;
      case 'verbose':
        a.verbose = true;
        break;
      case 'retry-failed':
        a.retryFailed = true;
        break;
      case 'changed-since-baseline':
        a.changedSinceBaseline = true;
        break;
      case 'dataplane':
        a.dataplane = val();
        break;
      case 'driver':
        a.driver = val();
        if (a.driver !== 'fake' && a.driver !== 'libvirt') throw new Error('--driver is fake or libvirt');
        break;
      case 'libvirt-hosts':
        a.libvirtHosts = Number(val());
        if (a.libvirtHosts !== 1 && a.libvirtHosts !== 2) throw new Error('--libvirt-hosts is 1 or 2');
        break;
      case 'volume-driver':
        a.volumeDriver = val();
        if (a.volumeDriver !== 'file' && a.volumeDriver !== 'rbd') throw new Error('--volume-driver is file or rbd');
        break;
      case 'passing':
        a.passing = path.resolve(val());
        break;
      default:
        throw new Error(`unknown option --${key}\n\n${USAGE}`);
    }
  }
  if (!a.regression && !a.selections.length) return 'help';
  if (a.regression && a.selections.length)
    throw new Error('--regression runs conformance/passing.txt; give no area with it');
  if (a.libvirtHosts > 1 && a.driver !== 'libvirt') throw new Error('--libvirt-hosts goes with --driver libvirt');
  if ((a.retryFailed || a.changedSinceBaseline) && !a.regression)
    throw new Error('--retry-failed and --changed-since-baseline go with --regression');
  return a;
}

const log = (s: string) => process.stdout.write(`[conformance] ${s}\n`);

/** Several areas/regexes in one run: their regexes joined with |. */
function combine(sel: Selection[]): Selection {
  if (sel.length === 1) return sel[0]!;
  return {
    label: sel
      .map((s) => s.label)
      .join('+')
      .slice(0, 80),
    regex: sel.map((s) => `(${s.regex})`).join('|'),
    packages: [...new Set(sel.flatMap((s) => s.packages))].sort(),
  };
}

/**
 * What tempest logged as the guests' console output (scenario tests log it when SSH fails), so a
 * failure on a CI machine whose work directory is gone can still be read.
 */
function printConsoleOutputs(tempestLog: string) {
  const blocks = tempestLog.split(/\n(?=\d{4}-\d\d-\d\d )/).filter((b) => b.includes('Console output for'));
  for (const b of blocks.slice(-4)) {
    const lines = b.split('\n');
    log(`${lines[0]!.slice(0, 200)}`);
    for (const l of lines.slice(1).slice(-40)) process.stdout.write(`    | ${l}\n`);
  }
}

/** The closing `N passed, M failed` of a regression run: printed last, after the cloud is stopped. */
let closingLine: string | undefined;

async function run(a: Args): Promise<number> {
  const started = new Date();
  const t0 = performance.now();
  let selection: Selection;
  let kept: string[] = [];
  if (a.regression) {
    kept = readPassingList(a.passing);
    if (!kept.length) {
      log(`${path.relative(REPO, a.passing)} lists no test: nothing to check`);
      closingLine = '0 passed, 0 failed';
      return 0;
    }
    if (a.changedSinceBaseline) {
      const sel = selectSinceBaseline(REPO, path.join(CONFORMANCE, 'ci-baseline'), a.passing, kept);
      log(`${sel.all ? 'every kept test' : `${sel.ids.length} of ${kept.length} kept tests`}: ${sel.reason}`);
      kept = sel.ids;
      if (!kept.length) {
        closingLine = '0 passed, 0 failed';
        return 0;
      }
    }
    selection = { label: 'regression', regex: '', packages: packagesFor(kept.join('\n')) };
  } else {
    selection = combine(a.selections.map(resolveSelection));
  }

  ensureTempest(selection.packages, log);

  let stratus: StartedStratus | undefined;
  const libvirt = a.driver === 'libvirt' && !a.url;
  let guest: GuestFiles | undefined;
  if (libvirt) {
    log(`building the test guest (cached in ${path.relative(REPO, GUEST_DIR)})`);
    guest = await prepareGuest(GUEST_DIR, (s) => log(`guest: ${s}`));
  }
  let ceph: TestCeph | undefined;
  if (a.volumeDriver === 'rbd' && !a.url) {
    const why = cephUnavailable();
    if (why) throw new Error(`--volume-driver rbd: ${why}`);
    ceph = new TestCeph();
    log('starting a one-node Ceph for the rbd volume driver');
    try {
      await ceph.start();
    } catch (err) {
      await ceph.stop();
      throw err;
    }
    log(`Ceph is up in ${ceph.bootSeconds.toFixed(1)} s (${ceph.memoryMiB()} MiB)`);
  }
  // A real data plane: this run's own public /24 (another linuxbridge cloud may be running beside it).
  let publicRange: PublicRange | undefined;
  if (!a.url && (libvirt || a.dataplane === 'linuxbridge')) {
    publicRange = claimPublicRange();
    log(`network: the public range of this run is ${publicRange.cidr}`);
  }
  const stopTempest = new AbortController();
  const stopOnSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping`);
    stopTempest.abort();
    void (stratus?.stop() ?? Promise.resolve())
      .then(() => (libvirt ? cleanupLibvirtHost(path.join(WORK, 'stratus-data', 'libvirt'), log) : undefined))
      .then(() => ceph?.stop())
      .finally(() => {
        publicRange?.release();
        process.exit(130);
      });
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    let url: string;
    let cloudsFile: string;
    const securityCompliance = a.url
      ? a.securityCompliance
        ? DEVSTACK_SECURITY_COMPLIANCE
        : undefined
      : DEVSTACK_SECURITY_COMPLIANCE;
    if (a.url) {
      url = a.url;
      cloudsFile = a.clouds ?? path.join(process.env.STRATUS_DATA_DIR ?? path.join(REPO, '.stratus'), 'clouds.yaml');
      await waitFor200(`${url}/identity/v3`, 10_000);
    } else {
      const port = a.port ?? (await freePort());
      if (libvirt && a.libvirtHosts > 1) {
        log(`compute: ${a.libvirtHosts} libvirt hosts joined by an underlay veth`);
        await linkLibvirtHosts(a.libvirtHosts);
      }
      log(`starting Stratus on port ${port} (data in ${path.relative(REPO, path.join(WORK, 'stratus-data'))})`);
      stratus = await startStratus({
        repoRoot: REPO,
        dataDir: path.join(WORK, 'stratus-data'),
        port,
        outputFile: path.join(WORK, 'stratus.out'),
        securityCompliance,
        secureRbac: a.secureRbac,
        dataplane: libvirt ? 'linuxbridge' : a.dataplane,
        ...(publicRange ? { publicGatewayCidr: publicRange.gatewayCidr } : {}),
        driver: a.driver,
        guestDir: GUEST_DIR,
        libvirtHosts: libvirt ? a.libvirtHosts : undefined,
        ...(ceph
          ? {
              blockStorage: {
                driver: 'rbd',
                backendName: 'ceph',
                rbdPool: ceph.pool,
                rbdUser: ceph.user,
                rbdCephConf: ceph.conf,
              },
            }
          : {}),
      });
      url = stratus.url;
      cloudsFile = stratus.cloudsFile;
    }
    const credentials = readCloudsYaml(cloudsFile, a.cloud);
    const { token, catalog } = await fetchCatalog(credentials);
    log(`cloud at ${url}: catalog has ${catalog.map((s) => s.type).join(', ') || 'nothing'}`);
    let network: NetworkFacts | undefined;
    const networkUrl = networkEndpoint(catalog, credentials.regionName);
    if (networkUrl) {
      log('network: what DevStack creates (subnet pools, the public network, the shared network)');
      network = await prepareNetwork({
        endpoint: networkUrl,
        token,
        log: (s) => log(`network: ${s}`),
        sharedRouter: a.secureRbac === 'all',
        ...(publicRange ? { floatingRange: publicRange.cidr } : {}),
      });
      log(`network: ${network.extensions.length} API extensions, public network ${network.publicNetworkId ?? 'none'}`);
    }

    let compute: ComputeFacts | undefined;
    const computeUrl = serviceEndpoint(catalog, 'compute', credentials.regionName);
    if (computeUrl) {
      log('compute: what DevStack creates (the tempest images, flavors m1.nano and m1.micro)');
      compute = await prepareCompute({
        computeEndpoint: computeUrl,
        imageEndpoint: serviceEndpoint(catalog, 'image', credentials.regionName),
        token,
        log: (s) => log(`compute: ${s}`),
      });
      if (guest && stratus) {
        const v3 = credentials.authUrl.replace(/\/+$/, '').replace(/(\/v3)?$/, '/v3');
        const ids = await registerTempestGuest(guest, v3, credentials.password);
        compute.imageRef = ids.imageRef;
        compute.imageRefAlt = ids.imageRefAlt;
        log(
          `compute: the test guest is image ${ids.imageRef} (self-booting) and ${ids.imageRefAlt} (kernel + ramdisk)`,
        );
      }
      log(
        `compute: image ${compute.imageRef ?? 'none'}, flavor ${compute.flavorRef ?? 'none'}, microversions ${compute.minMicroversion ?? '?'}-${compute.maxMicroversion ?? '?'}`,
      );
    }

    const ws = path.join(WORK, 'tempest');
    const conf = buildTempestConfig({
      workspace: ws,
      credentials,
      catalog,
      securityCompliance,
      secureRbac: a.secureRbac,
      network,
      compute,
      realGuests: libvirt,
      libvirtHosts: a.libvirtHosts,
      overrides: a.overrides,
    });
    prepareWorkspace(ws, renderIni(conf));
    const scenarioImage = conf.get('scenario')?.get('img_file');
    if (scenarioImage && guest?.bootDisk) fs.copyFileSync(guest.bootDisk, scenarioImage);
    else if (scenarioImage) fs.writeFileSync(scenarioImage, tinyQcow2(TEMPEST_IMAGES.virtualSize));
    let includeList: string | undefined;
    if (a.regression) {
      includeList = path.join(ws, 'regression-include.txt');
      fs.writeFileSync(includeList, includeListFor(kept));
    }
    const regex = a.regression ? undefined : selection.regex;
    const listed = listTests(ws, { regex, includeList });
    if (!listed.length) throw new Error(`no tempest test matches ${regex ?? includeList}`);
    log(
      `running ${listed.length} tempest tests (${a.regression ? path.relative(REPO, a.passing) : selection.regex}), concurrency ${a.concurrency}`,
    );
    const runLog = path.join(ws, 'run.log');
    const code = await runTempest(ws, {
      regex,
      includeList,
      concurrency: a.concurrency,
      logFile: runLog,
      verbose: a.verbose,
      signal: stopTempest.signal,
    });

    const results = collectResults(parseSubunit(lastRunSubunit(ws)));
    if (!results.length && !a.regression) {
      const tail = fs.readFileSync(runLog, 'utf8').split('\n').slice(-25).join('\n');
      throw new Error(`tempest ran no test (exit ${code}); see ${runLog}:\n${tail}`);
    }
    const tempestLog = path.join(ws, 'logs', 'tempest.log');
    const logs = fs.existsSync(tempestLog) ? requestLinesByCaller(fs.readFileSync(tempestLog, 'utf8')) : undefined;
    const regression = a.regression ? judgeRegression(kept, perTestEntries(results, listed, logs).tests) : undefined;
    if (regression?.failed.length && fs.existsSync(tempestLog))
      printConsoleOutputs(fs.readFileSync(tempestLog, 'utf8'));
    const flaky: Array<{ id: string; why: string }> = [];
    if (regression?.failed.length && a.retryFailed) {
      const again = regression.failed.map((f) => f.id);
      log(`running the ${again.length} failed test(s) once more`);
      const retryList = path.join(ws, 'retry-include.txt');
      fs.writeFileSync(retryList, includeListFor(again));
      await runTempest(ws, {
        includeList: retryList,
        concurrency: 1,
        logFile: path.join(ws, 'retry.log'),
        verbose: a.verbose,
        signal: stopTempest.signal,
      });
      const retried = collectResults(parseSubunit(lastRunSubunit(ws)));
      const second = judgeRegression(again, perTestEntries(retried, again, undefined).tests);
      for (const id of second.passed) {
        const first = regression.failed.find((f) => f.id === id)!;
        flaky.push(first);
        regression.passed.push(id);
      }
      regression.failed = regression.failed.filter((f) => !second.passed.includes(f.id));
    }
    const report = buildReport(
      {
        label: selection.label,
        regex: a.regression ? `${path.relative(REPO, a.passing)} (${kept.length} tests)` : selection.regex,
        stratusUrl: url,
        tempestVersion: debianPackageVersion('tempest'),
        startedAt: started,
        wallSeconds: (performance.now() - t0) / 1000,
        workspace: ws,
        ...(regression ? { regression: { passed: regression.passed.length, failed: regression.failed } } : {}),
      },
      results,
      listed,
      logs,
    );
    const files = writeReport(path.join(CONFORMANCE, 'reports'), report);
    const c = report.counts;
    log(
      `${c.total} tests: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped (${c.classErrors} class-level errors) in ${report.wallSeconds} s`,
    );
    for (const g of report.causes.slice(0, 15)) log(`  ${String(g.count).padStart(4)} × ${g.cause.slice(0, 200)}`);
    log(`report: ${path.relative(REPO, files.md)} (and .json)`);

    if (a.updatePassing) {
      const added = addToPassingList(a.passing, report.passed);
      log(
        `${path.relative(REPO, a.passing)}: ${added.length} test(s) added, ${readPassingList(a.passing).length} kept`,
      );
    }
    if (regression) {
      for (const f of flaky) log(`FLAKY (passed when run again) ${f.id}: first ${f.why}`);
      for (const f of regression.failed) log(`REGRESSION ${f.id}: ${f.why}`);
      closingLine = `${regression.passed.length} passed, ${regression.failed.length} failed`;
      return regression.failed.length ? 1 : 0;
    }
    return 0;
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    if (stratus) {
      await stratus.stop();
      log(`Stratus stopped (its log: ${path.relative(REPO, path.join(stratus.dataDir, 'stratus.log'))})`);
    }
    // Also when the cloud did not start: the hosts' namespaces (and their underlay) were made before it.
    if (libvirt) await cleanupLibvirtHost(path.join(WORK, 'stratus-data', 'libvirt'), log);
    if (ceph) {
      await ceph.stop();
      log('Ceph stopped and removed');
    }
    publicRange?.release();
  }
}

async function main(): Promise<number> {
  let a: Args | 'help';
  try {
    a = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  if (a === 'help') {
    const asked = process.argv.includes('--help');
    (asked ? process.stdout : process.stderr).write(USAGE);
    return asked ? 0 : 2;
  }
  let code: number;
  try {
    code = await run(a);
  } catch (e) {
    process.stderr.write(`[conformance] error: ${(e as Error).message}\n`);
    // A regression run that could not run counts every kept test as failed.
    if (a.regression) closingLine = `0 passed, ${readPassingList(a.passing).length} failed`;
    code = 1;
  }
  if (closingLine) process.stdout.write(`${closingLine}\n`);
  return code;
}

process.exitCode = await main();
