import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { cpuMs, treeCpuMs } from './processes.js';

// A child that spins for `ms` of CPU time, then either exits or sleeps.
const burn = (ms: number, then: 'exit' | 'sleep'): string =>
  `const t = process.cpuUsage(); while ((process.cpuUsage(t).user + process.cpuUsage(t).system) / 1000 < ${ms}); `
  + `process.stdout.write('burnt\\n'); ${then === 'sleep' ? 'setTimeout(() => {}, 60000);' : ''}`;

let parent: ChildProcess | undefined;
afterEach(() => {
  // the whole group: the shell and the node children it started
  if (parent?.pid) process.kill(-parent.pid, 'SIGKILL');
  parent = undefined;
});

/** A shell (the tree's root) running node children; resolves once `count` of them have burnt. */
function tree(script: string, count: number): Promise<ChildProcess> {
  const p = spawn('bash', ['-c', `${script}\nsleep 60`], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  parent = p;
  let seen = 0;
  return new Promise((resolve) => {
    p.stdout!.on('data', (d: Buffer) => {
      seen += d.toString().split('burnt').length - 1;
      if (seen >= count) resolve(p);
    });
  });
}

describe('treeCpuMs', () => {
  it("counts a living child's CPU time, which the parent's own does not show", async () => {
    const p = await tree(`node -e "${burn(300, 'sleep')}" &`, 1);
    expect(cpuMs(p.pid!)).toBeLessThan(100);
    expect(treeCpuMs(p.pid!)).toBeGreaterThanOrEqual(250);
  });

  it('counts the CPU time of children that have exited and been reaped', async () => {
    const p = await tree(`node -e "${burn(300, 'exit')}"`, 1);
    // the shell reaps the child when it exits, before running the next command
    await new Promise((r) => setTimeout(r, 200));
    expect(cpuMs(p.pid!)).toBeLessThan(100);
    expect(treeCpuMs(p.pid!)).toBeGreaterThanOrEqual(250);
  });
});
