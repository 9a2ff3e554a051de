/** The part of ExecutionContext the services need: hand background work to the runtime. */
export interface BackgroundTasks {
  waitUntil(work: Promise<unknown>): void;
}
