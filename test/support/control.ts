/** Asking a running Kirin for its status from a test. */
import { sendControl } from '../../src/master/control.ts';
import type { MasterStatus } from '../../src/master/master.ts';

export async function status(stateDir: string): Promise<MasterStatus> {
  return (await sendControl(stateDir, 'status', {}, 5000)) as MasterStatus;
}

/** PIDs of the workers in state 'ready'. */
export async function readyPids(stateDir: string): Promise<number[]> {
  return (await status(stateDir)).workers.filter((w) => w.state === 'ready').map((w) => w.pid);
}
