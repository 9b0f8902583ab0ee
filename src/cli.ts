// The `stratus` command.
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { loadConfig, type ConfigFlags } from './core/config.ts';
import { createLogger } from './core/log.ts';
import { Cloud } from './server.ts';
import { KeyRepository } from './identity/token/keys.ts';

const USAGE = `Usage: stratus <command> [options]

Commands:
  start            run the whole cloud in one process (all-in-one), or some roles of it (--role)
  bootstrap        create the Default domain, admin project/user, roles, service users and catalog
                   (like keystone-manage bootstrap; resets the admin password to --admin-password)
  db migrate       apply the database migrations of every service
  keys rotate      rotate the Fernet token keys (staged -> primary, new staged key)
  status           ask a running cloud whether each service answers
  image build-guest
                   build the test guest (Debian's kernel + busybox + dropbear, cached in
                   <data-dir>/guest) and register it in the running cloud's image service as
                   stratus-guest (with stratus-guest-kernel and stratus-guest-ramdisk)

Options:
  --data-dir DIR       where all state lives (env STRATUS_DATA_DIR, default ./.stratus)
  --config FILE        a YAML config file (default <data-dir>/stratus.yaml)
  --host ADDR          listen address (default 127.0.0.1)
  --port N             port of the single-port mode (default 8000)
  --public-host NAME   host name written into the catalog (default 127.0.0.1)
  --separate-ports     serve each service on its standard port (5000, 8774, ...)
  --database URL       'sqlite' (default) or postgres://user:pass@host/db
  --bus URL            message bus: 'memory' (default, in-process) or amqp://user:pass@host:5672/
                       (RabbitMQ; env STRATUS_BUS; --transport is the same option)
  --role LIST          what this process runs, comma separated: api, conductor, scheduler,
                       compute, network-agent (default all). Other roles than all need --bus amqp://... and,
                       for several processes, --database postgres://...; worker roles wait for
                       the api process and read its --data-dir (secrets.yaml)
  --compute-host NAME  the host name of this process's compute agent, conductor and scheduler
                       (nova's [DEFAULT] host; default this machine's hostname)
  --admin-password PW  the admin password (default: generated once, kept in <data-dir>/secrets.yaml)
  --log-level LEVEL    pino level (default info)
  --log-file FILE      where JSON logs go (default <data-dir>/stratus.log; '-' for stdout)
`;

function parseArgs(argv: string[]) {
  const flags: ConfigFlags & { logFile?: string } = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const [key, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    const val = () => inline ?? argv[++i];
    switch (key) {
      case 'data-dir':
        flags.dataDir = val();
        break;
      case 'config':
        flags.configFile = val();
        break;
      case 'host':
        flags.host = val();
        break;
      case 'port':
        flags.port = Number(val());
        break;
      case 'public-host':
        flags.publicHost = val();
        break;
      case 'separate-ports':
        flags.separatePorts = true;
        break;
      case 'database':
        flags.database = val();
        break;
      case 'transport':
      case 'bus':
        flags.transport = val();
        break;
      case 'role':
      case 'roles':
        flags.roles = val();
        break;
      case 'compute-host':
        flags.compute = { host: val() };
        break;
      case 'admin-password':
        flags.adminPassword = val();
        break;
      case 'log-level':
        flags.logLevel = val();
        break;
      case 'log-file':
        flags.logFile = val();
        break;
      case 'help':
        positional.unshift('help');
        break;
      default:
        throw new Error(`unknown option --${key}`);
    }
  }
  return { flags, positional };
}

async function main() {
  const { flags, positional } = parseArgs(process.argv.slice(2));
  const cmd = positional.join(' ') || 'help';
  const cfg = loadConfig(flags);
  const logTo = (file?: string) => {
    const target = file ?? path.join(cfg.dataDir, 'stratus.log');
    if (target === '-') return createLogger(cfg.logLevel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    return createLogger(cfg.logLevel, pino.destination({ dest: target, sync: false, mkdir: true }));
  };

  switch (cmd) {
    case 'start': {
      const t0 = performance.now();
      const log = logTo(flags.logFile);
      const cloud = new Cloud(cfg, log);
      await cloud.init();
      const urls = await cloud.listen();
      const ms = Math.round(performance.now() - t0);
      if (!cloud.api) {
        const compute = (cfg as any).compute?.host;
        process.stdout.write(
          `Stratus ${cfg.roles.join(', ')} is running (${ms} ms)${compute ? ` as host ${compute}` : ''}. Bus: ${cfg.transport.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')}  Logs: ${flags.logFile ?? path.join(cfg.dataDir, 'stratus.log')}\n`,
        );
      }
      const cc = cloud.api ? cloud.writeClientConfig() : undefined;
      if (cc)
        process.stdout.write(
          [
            `Stratus is running (${ms} ms). Data: ${cfg.dataDir}  Logs: ${flags.logFile ?? path.join(cfg.dataDir, 'stratus.log')}`,
            'Endpoints:',
            ...urls.map((u) => `  ${u}`),
            `Admin: user admin, password ${cloud.secrets.adminPassword}, project admin, domain Default`,
            `clouds.yaml (cloud "stratus", and "stratus-system" for system scope): ${cc.cloudsYaml.join(', ')}`,
            `openrc: ${cc.openrc}`,
            'Try: openstack --os-cloud stratus token issue',
            '',
          ].join('\n'),
        );
      let stopping = false;
      const stop = async (sig: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal: sig }, 'shutting down');
        await cloud.close();
        log.flush?.();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
      return;
    }
    case 'bootstrap': {
      const cloud = new Cloud(cfg, logTo(flags.logFile));
      await cloud.init({ bootstrap: true, resetAdminPassword: true });
      const cc = cloud.writeClientConfig();
      console.log(
        `Bootstrapped. Admin password: ${cloud.secrets.adminPassword}. clouds.yaml: ${cc.cloudsYaml.join(', ')}`,
      );
      await cloud.close();
      return;
    }
    case 'db migrate': {
      const cloud = new Cloud(cfg, logTo(flags.logFile));
      await cloud.init({ bootstrap: false });
      console.log(`Migrated: ${cloud.services.map((s) => s.name).join(', ')}`);
      await cloud.close();
      return;
    }
    case 'keys rotate': {
      const repo = new KeyRepository(path.join(cfg.dataDir, 'fernet-keys'), cfg.identity.fernetMaxActiveKeys);
      if (!repo.load().length) repo.setup();
      repo.rotate();
      console.log(
        `Rotated Fernet keys in ${repo.dir}: ${repo.load().length} keys active. A running Stratus picks them up within a minute.`,
      );
      return;
    }
    case 'status': {
      const base = cfg.separatePorts
        ? `http://${cfg.publicHost}:5000`
        : `http://${cfg.publicHost}:${cfg.port}/identity`;
      try {
        const res = await fetch(`${base}/v3`);
        console.log(`identity: ${res.status === 200 ? 'up' : `answered ${res.status}`} (${base})`);
        process.exitCode = res.status === 200 ? 0 : 1;
      } catch (e) {
        console.log(`identity: down (${base}: ${(e as Error).message})`);
        process.exitCode = 1;
      }
      return;
    }
    case 'image build-guest': {
      const { buildGuest } = await import('./compute/guest/build.ts');
      const { registerGuest } = await import('./compute/guest/register.ts');
      const { computeOptions } = await import('./compute/config.ts');
      const { loadSecrets } = await import('./server.ts');
      const files = await buildGuest(computeOptions(cfg).libvirt.guestDir, { log: (m) => console.log(m) });
      console.log(`Test guest: ${files.kernel}, ${files.ramdisk}, ${files.disk} (kernel ${files.kernelPackage})`);
      if (!fs.existsSync(path.join(cfg.dataDir, 'secrets.yaml'))) {
        console.log('No cloud in this data directory: not registered (start Stratus, then run this again).');
        return;
      }
      const base = cfg.separatePorts
        ? `http://${cfg.publicHost}:5000`
        : `http://${cfg.publicHost}:${cfg.port}/identity`;
      const ids = await registerGuest(files, { authUrl: `${base}/v3`, password: loadSecrets(cfg).adminPassword });
      console.log(`Registered: stratus-guest ${ids.disk} (kernel ${ids.kernel}, ramdisk ${ids.ramdisk})`);
      return;
    }
    default:
      process.stdout.write(USAGE);
      if (cmd !== 'help') process.exitCode = 2;
  }
}

main().catch((e) => {
  console.error(`stratus: ${e?.message ?? e}`);
  process.exit(1);
});
