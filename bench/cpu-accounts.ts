import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Where the CPU went during a load: read from Linux's /proc, for the machine and for named processes, with
 * each process's busiest thread apart. Written by hand because the process-usage libraries (pidusage and
 * the like) report processes only, and what matters here is one thread: an inference worker runs
 * onnxruntime on a thread of its own (lib/model/session-thread.ts), and under load it is the busiest one.
 */

/** Clock ticks per second of /proc's counters (USER_HZ). */
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

interface ProcessTicks {
  total: number;
  threads: Map<string, number>;
}

export interface CpuSnapshot {
  at: number;
  machineBusy: number;
  processes: Map<number, ProcessTicks>;
}

/** utime + stime of a /proc/.../stat line (fields 14 and 15; the name in parentheses may hold spaces). */
function ticksOf(statLine: string): number {
  const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function readProcess(pid: number): ProcessTicks | null {
  try {
    const threads = new Map<string, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        threads.set(tid, ticksOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    return { total: ticksOf(readFileSync(`/proc/${pid}/stat`, 'utf8')), threads };
  } catch {
    return null; // not a process of this machine (a remote Redis), or gone
  }
}

export function snapshotCpu(pids: number[]): CpuSnapshot {
  // /proc/stat's first line: user nice system idle iowait irq softirq steal guest guest_nice. Busy is user,
  // nice, system, irq and softirq: guest time is already inside user and nice, and steal went to other VMs.
  const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const machineBusy = user! + nice! + system! + irq! + softirq!;
  const processes = new Map<number, ProcessTicks>();
  for (const pid of pids) {
    const ticks = readProcess(pid);
    if (ticks) processes.set(pid, ticks);
  }
  return { at: performance.now(), machineBusy, processes };
}

export interface ProcessCpu {
  /** Cores the process used on average over the window. */
  cores: number;
  /** Cores its busiest thread used (a thread that ended inside the window is missing here: its time stays only in the total). */
  busiestThreadCores: number;
}

export interface CpuAccount {
  seconds: number;
  /** Cores busy on the whole machine (every process and the kernel). */
  machineCores: number;
  byPid: Map<number, ProcessCpu>;
}

export function accountCpu(before: CpuSnapshot, after: CpuSnapshot): CpuAccount {
  const seconds = (after.at - before.at) / 1000;
  const cores = (ticks: number) => ticks / TICKS / seconds;
  const byPid = new Map<number, ProcessCpu>();
  for (const [pid, end] of after.processes) {
    const start = before.processes.get(pid);
    if (!start) continue;
    const threadDeltas = [...end.threads].map(([tid, t]) => t - (start.threads.get(tid) ?? 0));
    byPid.set(pid, { cores: cores(end.total - start.total), busiestThreadCores: cores(Math.max(0, ...threadDeltas)) });
  }
  return { seconds, machineCores: cores(after.machineBusy - before.machineBusy), byPid };
}
