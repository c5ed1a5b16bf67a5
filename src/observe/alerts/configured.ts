/** Whether the plan sends alerts anywhere; without it the master never loads the alert channels. */
import type { NotifyPlan } from '../../config/plan.ts';

export function alertsConfigured(plan: NotifyPlan): boolean {
  return plan.email !== null || plan.webhook !== null;
}
