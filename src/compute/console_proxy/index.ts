// The console proxies of the process with the `api` role (compute.consoleProxy): nova-novncproxy
// and nova-serialproxy, each on its own listener, as the metadata API is started. A proxy told to
// listen on port 0 (tests) takes the port the system chose, and a base URL handed out with tokens
// that names port 0 (compute.consoles.vnc / .serial, the vnc default included) is rewritten to it.
import type { Logger } from '../../core/log.ts';
import type { ComputeOptions } from '../config.ts';
import type { ConsoleConnection } from '../consoles.ts';
import { ConsoleProxyServer, type ProxyKind } from './server.ts';

export { ConsoleProxyServer } from './server.ts';

const PROTOCOL = { novnc: 'vnc', serial: 'serial', spice: 'spice' } as const;

export class ConsoleProxies {
  readonly servers = new Map<ProxyKind, ConsoleProxyServer>();

  constructor(
    private o: ComputeOptions,
    private lookup: (token: string) => Promise<ConsoleConnection | null>,
    private log?: Logger,
  ) {}

  /** Starts the proxies that are enabled; none when none is. */
  async start(): Promise<void> {
    for (const kind of ['novnc', 'serial', 'spice'] as const) {
      const l = this.o.consoleProxy[kind];
      if (!l.enabled) continue;
      const s = new ConsoleProxyServer(
        kind,
        {
          lookup: this.lookup,
          web: kind === 'novnc' ? this.o.consoleProxy.web : kind === 'spice' ? this.o.consoleProxy.spiceWeb : undefined,
          allowedOrigins: this.o.consoleProxy.allowedOrigins,
        },
        this.log?.child({ role: `${kind}proxy` }),
      );
      await s.start(l.host, l.port);
      this.servers.set(kind, s);
      const base = this.o.consoles[PROTOCOL[kind]];
      if (l.port === 0 && typeof base === 'string') {
        this.o.consoles[PROTOCOL[kind]] = base.replace(/^(\w+:\/\/[^/]*):0(?=\/|$)/, `$1:${s.port}`);
      }
    }
  }

  async close(): Promise<void> {
    for (const s of this.servers.values()) await s.close();
    this.servers.clear();
  }
}
