import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isYunError } from '../../../core/errors.ts';
import { QmpClient, withQmp } from './qmp.ts';

/**
 * Wire-level checks of the QMP client against a scripted peer: framing split
 * across reads, events interleaved with replies, error replies. The real
 * QEMU conversation is covered end to end in test/vm/qemu.test.ts.
 */
describe('QmpClient framing', () => {
  let dir = '';
  let server: Server;
  const sock = () => join(dir, 'qmp.sock');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'yun-qmp-'));
    server = createServer((c: Socket) => {
      c.write('{"QMP": {"version": {}, "capabilities": []}}\r\n');
      let buf = '';
      c.on('data', (d) => {
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const msg = JSON.parse(buf.slice(0, nl)) as { execute: string; id: string };
          buf = buf.slice(nl + 1);
          if (msg.execute === 'qmp_capabilities') c.write(`{"return": {}, "id": "${msg.id}"}\r\n`);
          else if (msg.execute === 'query-status') {
            // reply split mid-JSON, preceded by an event
            const reply = `{"event": "RESUME", "data": {}}\r\n{"return": {"status": "running", "running": true}, "id": "${msg.id}"}\r\n`;
            c.write(reply.slice(0, 20));
            setTimeout(() => c.write(reply.slice(20)), 20);
          } else if (msg.execute === 'device_del') {
            c.write(`{"return": {}, "id": "${msg.id}"}\r\n`);
            setTimeout(() => c.write('{"event": "DEVICE_DELETED", "data": {"device": "dev-x"}}\r\n'), 30);
          } else c.write(`{"error": {"class": "CommandNotFound", "desc": "The command ${msg.execute} has not been found"}, "id": "${msg.id}"}\r\n`);
        }
      });
    });
    await new Promise<void>((r) => server.listen(sock(), r));
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('returns replies across split reads and keeps events for waiters', async () => {
    await withQmp(sock(), async (q) => {
      assert.deepEqual(await q.execute('query-status'), { status: 'running', running: true });
      assert.equal((await q.waitEvent((e) => e.event === 'RESUME', 1000)).event, 'RESUME', 'an event seen earlier is delivered');
      const del = q.waitEvent((e) => e.event === 'DEVICE_DELETED' && e.data?.device === 'dev-x', 2000);
      await q.execute('device_del', { id: 'dev-x' });
      assert.equal((await del).data?.device, 'dev-x');
    });
  });

  it('maps QMP errors to DriverFailed with the QMP class', async () => {
    const q = await QmpClient.connect(sock());
    try {
      await assert.rejects(q.execute('nope'), (e) => isYunError(e) && e.code === 'DriverFailed' && e.details?.qmpClass === 'CommandNotFound');
      await assert.rejects(q.waitEvent((e) => e.event === 'NEVER', 50), /timed out/);
    } finally {
      q.close();
    }
  });

  it('a missing socket is DriverFailed', async () => {
    await assert.rejects(QmpClient.connect(join(dir, 'absent.sock')), (e) => isYunError(e) && e.code === 'DriverFailed');
  });
});
