// Linear flows with revert (TaskFlow's idea, the small part of it Stratus needs): tasks run in
// order, each may add to a shared store; when one fails, the tasks that completed are reverted
// in reverse order and the original error is rethrown. A revert that fails is reported to
// `onRevertError` and does not stop the other reverts.

export interface Task<S> {
  name: string;
  execute(store: S): Promise<void> | void;
  /** Undo what execute did; `error` is the failure that made the flow revert. */
  revert?(store: S, error: unknown): Promise<void> | void;
}

export interface FlowOptions {
  onRevertError?(task: string, err: unknown): void;
  /** Called before each task runs (for logging and instance action events). */
  onTask?(task: string): void;
}

export class FlowError extends Error {
  constructor(
    public task: string,
    public cause: unknown,
  ) {
    super(`task ${task} failed: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

export class LinearFlow<S> {
  private tasks: Task<S>[] = [];
  constructor(
    public name: string,
    private opts: FlowOptions = {},
  ) {}

  add(...tasks: Task<S>[]): this {
    this.tasks.push(...tasks);
    return this;
  }

  /** Runs every task; on failure reverts the completed ones and rethrows the task's error. */
  async run(store: S): Promise<S> {
    const done: Task<S>[] = [];
    for (const t of this.tasks) {
      this.opts.onTask?.(t.name);
      try {
        await t.execute(store);
      } catch (err) {
        // The failing task may have half-done its work: it is reverted too.
        for (const r of [t, ...done.reverse()]) {
          try {
            await r.revert?.(store, err);
          } catch (e) {
            this.opts.onRevertError?.(r.name, e);
          }
        }
        throw err;
      }
      done.push(t);
    }
    return store;
  }
}
