/**
 * What an incident is: the shape every source (workers, services, upstreams,
 * certificates, DDNS) reports and the alerter sends. A leaf module, so that a
 * source can name it without importing the watcher and, through it, the master.
 */
export type IncidentKind =
  | 'app-error'
  | 'worker-crash'
  | 'worker-hung'
  | 'reload-failed'
  | 'crash-loop'
  | 'certificate-failed'
  | 'upstream-down'
  | 'upstream-up'
  | 'service-down'
  | 'service-up'
  | 'ddns-stopped';

export interface Incident {
  kind: IncidentKind;
  /**
   * Same signature = the same problem again. For things that go down and come
   * back, "down" and "up" share the signature of the thing (upstream, service).
   */
  signature: string;
  title: string;
  detail: string;
  time: number;
  /** For upstreams and services: what state the thing is in now. */
  state?: 'down' | 'up';
  /** How many occurrences this one stands for (a worker folds what it dropped into the next report). */
  count: number;
  /** For app errors: the status the client got. */
  status?: number;
}
