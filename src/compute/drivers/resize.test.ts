import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { liveResizeBlocker, sameLimits, vcpusFor } from './resize.ts';

describe('live resize decisions', () => {
  const vm = { vcpus: 2, minMemoryMb: 64, maxMemoryMb: 256 };

  it('memory down to the floor and back up to the boot size is live; same vCPU count is live', () => {
    assert.equal(liveResizeBlocker(vm, { cpus: 2, memoryMb: 128 }), undefined);
    assert.equal(liveResizeBlocker(vm, { cpus: 2, memoryMb: 256 }), undefined);
    assert.equal(liveResizeBlocker(vm, { cpus: 2, memoryMb: 64 }), undefined);
    assert.equal(liveResizeBlocker(vm, { cpus: 1.5, memoryMb: 200 }), undefined, '1.5 cpus is 2 vCPUs');
    assert.equal(liveResizeBlocker(vm, { cpus: 2 }), undefined, 'memory unset is no change');
  });

  it('more memory than the boot size, a different vCPU count or memory under the floor need a restart, each named', () => {
    assert.match(liveResizeBlocker(vm, { cpus: 2, memoryMb: 257 }) ?? '', /above the 256 MiB it was started with/);
    assert.match(liveResizeBlocker(vm, { cpus: 1, memoryMb: 128 }) ?? '', /vCPU count changes \(2 → 1\)/);
    assert.match(liveResizeBlocker(vm, { cpus: 3, memoryMb: 32 }) ?? '', /vCPU count changes \(2 → 3\).*; memory is not taken below 64 MiB/);
    assert.match(liveResizeBlocker({ vcpus: 1, minMemoryMb: 64, maxMemoryMb: 256 }, { memoryMb: 128 }) ?? 'live', /live/, 'cpus unset is 1 vCPU');
  });

  it('vCPUs are added live up to maxVcpus (hot-plug), never removed live', () => {
    const hot = { vcpus: 2, maxVcpus: 4, minMemoryMb: 64, maxMemoryMb: 256 };
    assert.equal(liveResizeBlocker(hot, { cpus: 3 }), undefined);
    assert.equal(liveResizeBlocker(hot, { cpus: 4, memoryMb: 128 }), undefined);
    assert.match(liveResizeBlocker(hot, { cpus: 5 }) ?? '', /vCPU count changes \(2 → 5\) and only up to 4 are hot-plugged/);
    assert.match(liveResizeBlocker(hot, { cpus: 1 }) ?? '', /vCPU count changes \(2 → 1\) and vCPUs are not removed while it runs/);
    assert.match(liveResizeBlocker(vm, { cpus: 3 }) ?? '', /vCPUs are not hot-plugged/, 'without maxVcpus the count is fixed');
  });

  it('vCPUs round up; limits compare field by field', () => {
    assert.deepEqual([vcpusFor(undefined), vcpusFor(0.25), vcpusFor(1), vcpusFor(2.1)], [1, 1, 1, 3]);
    assert.ok(sameLimits({ cpus: 1, memoryMb: 64 }, { cpus: 1, memoryMb: 64, pids: undefined }));
    assert.ok(!sameLimits({ cpus: 1, memoryMb: 64 }, { cpus: 1, memoryMb: 65 }));
  });
});
