// Periodic tasks (oslo.service's looping calls): run a function every N seconds, never two
// runs of one task at once, errors logged and the loop kept alive. Timers do not keep the
// process alive.
import type { Logger } from './log.ts';

export class PeriodicTasks {
  private timers: NodeJS.Timeout[] = [];
  constructor(private log: Logger) {}

  add(name: string, seconds: number, fn: () => unknown | Promise<unknown>) {
    let running = false;
    const t = setInterval(async () => {
      if (running) return;
      running = true;
      try {
        await fn();
      } catch (err) {
        this.log.error({ err, task: name }, 'periodic task failed');
      } finally {
        running = false;
      }
    }, seconds * 1000);
    t.unref();
    this.timers.push(t);
  }

  stop() {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}
