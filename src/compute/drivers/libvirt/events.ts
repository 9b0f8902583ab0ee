// libvirt's domain lifecycle events for one host (Nova's host.Host event thread): one long-lived
// `virsh event --all --loop --timestamp` on the host's libvirtd, its lines parsed into
// Started / Suspended / Resumed / Stopped / Shutdown / ... events and handed to a listener (the
// driver, which refreshes its states and tells the agent: Nova's handle_lifecycle_event). When
// virsh dies (libvirtd restarted, killed) it is started again after a short pause; stop() ends it.
import { type ChildProcess, spawn } from 'node:child_process';

/** One event as virsh prints it: `<ts>: event 'lifecycle' for domain 'instance-x': Stopped Destroyed`. */
export interface DomainEvent {
  /** libvirt's event kind: lifecycle, reboot, rtc-change, device-removed, ... */
  kind: string;
  domain: string;
  /** For lifecycle events: Started, Suspended, Resumed, Stopped, Shutdown, PMSuspended, Crashed, Defined, Undefined. */
  transition: string | null;
  /** The rest of the line (the lifecycle detail: Booted, Destroyed, Finished, Migrated, ...). */
  detail: string;
}

/** Parses one line of `virsh event --timestamp` (null for anything else). */
export function parseEventLine(line: string): DomainEvent | null {
  const m = /event '([\w-]+)' for domain '([^']+)'(?::\s*(.*))?$/.exec(line.trim());
  if (!m) return null;
  const rest = (m[3] ?? '').trim();
  if (m[1] !== 'lifecycle') return { kind: m[1]!, domain: m[2]!, transition: null, detail: rest };
  const [transition, ...detail] = rest.split(/\s+/);
  return { kind: 'lifecycle', domain: m[2]!, transition: transition || null, detail: detail.join(' ') };
}

export interface EventStreamOptions {
  /** The host's libvirt URI. */
  uri: string;
  onEvent: (e: DomainEvent) => void;
  log?: (msg: string) => void;
  /** Milliseconds before virsh is started again after it died (default 1000). */
  restartDelayMs?: number;
}

export class LifecycleEventStream {
  private child?: ChildProcess;
  private stopped = true;
  private timer?: NodeJS.Timeout;
  private buf = '';
  /** How many times virsh was (re)started (tests). */
  starts = 0;

  constructor(private readonly o: EventStreamOptions) {}

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.spawn();
  }

  get running() {
    return !!this.child && this.child.exitCode === null && !this.child.killed;
  }

  private spawn() {
    if (this.stopped) return;
    this.starts++;
    this.buf = '';
    // stdbuf: virsh writes through stdio, fully buffered on a pipe; each event must arrive at once.
    const child = spawn('stdbuf', ['-oL', 'virsh', '-q', '-c', this.o.uri, 'event', '--all', '--loop', '--timestamp'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl = this.buf.indexOf('\n');
      while (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const e = parseEventLine(line);
        if (e) {
          try {
            this.o.onEvent(e);
          } catch (err) {
            this.o.log?.(`event listener failed: ${(err as Error).message}`);
          }
        }
        nl = this.buf.indexOf('\n');
      }
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => {
      stderr = (stderr + c).slice(-500);
    });
    child.once('error', (err) => this.o.log?.(`virsh event could not start: ${err.message}`));
    child.once('close', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      this.o.log?.(
        `virsh event ended (${signal ?? `exit ${code}`}${stderr.trim() ? `: ${stderr.trim()}` : ''}); restarting it`,
      );
      this.timer = setTimeout(() => this.spawn(), this.o.restartDelayMs ?? 1000);
      this.timer.unref();
    });
  }

  /** Ends the stream (and its virsh); resolves once virsh has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      }, 2000).unref();
    });
  }

  /** The pid of the current virsh (tests kill it to see it come back). */
  get pid(): number | undefined {
    return this.child?.pid;
  }
}
