import type { Bindings } from "../../core/app-env.ts";

/** Cron Trigger: removes pending uploads that never completed. Placeholder until assets land. */
export async function sweepPendingUploads(_env: Bindings, _now: Date): Promise<void> {}
