/** The failover controller's status report: the active target, DNS, and every target. */
import type { HealthState } from '../../core/failover/index.js';

/** One target in a status report. */
export interface TargetReport {
  name: string;
  tier: number;
  endpoint: string;
  jurisdiction: string | undefined;
  state: HealthState;
  disabled: boolean;
  active: boolean;
  /** When a leased "fail" ends by itself (ISO 8601), if the target is out on a lease. */
  leaseUntil?: string | undefined;
  lastCheck: string | undefined;
  lastCheckOk: boolean | undefined;
  latencyMs: number | undefined;
  lastError: string | undefined;
}

export interface FailoverStatus {
  active: string | undefined;
  routing: string;
  mode: string;
  failback: string;
  frontDoor: string | undefined;
  dns:
    | {
        provider: string;
        record: string;
        values: string[] | undefined;
        writes: number;
        lastError: string | undefined;
      }
    | undefined;
  targets: TargetReport[];
}
