import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BufferedUsageSink, recordUsageToSink, s3RequestClass } from './sink.ts';

describe('usage sink', () => {
  it('classifies S3 requests like AWS: writes and listings A, reads B', () => {
    assert.equal(s3RequestClass('PUT'), 'class-a');
    assert.equal(s3RequestClass('POST'), 'class-a');
    assert.equal(s3RequestClass('PUT', 'CopyObject'), 'class-a');
    assert.equal(s3RequestClass('GET', 'ListObjectsV2'), 'class-a');
    assert.equal(s3RequestClass('GET', 'GetObject'), 'class-b');
    assert.equal(s3RequestClass('HEAD'), 'class-b');
  });
  it('sums counters per project, sku and resource; drops bad input; drain empties', () => {
    const s = new BufferedUsageSink();
    const feed = recordUsageToSink(s);
    feed('p', 's3.request', 1, { bucket: 'b', method: 'GET', op: 'GetObject' });
    feed('p', 's3.request', 1, { bucket: 'b', method: 'GET', op: 'GetObject' });
    feed('p', 's3.request', 1, { bucket: 'b', method: 'PUT' });
    feed('p', 's3.bytes_out', 1500, { bucket: 'b' });
    feed('p', 'objects.put_bytes', 99, { bucket: 'b' });
    s.add({ project: 'p', sku: 'network.data_out', quantity: 1.5, resource: { id: 'x', kind: 'x', name: 'x' } });
    assert.equal(s.rejected, 1);
    const d = s.drain().map((x) => `${x.sku}=${x.quantity}`).sort();
    assert.deepEqual(d, ['network.data_out=1500', 's3.requests:class-a=1', 's3.requests:class-b=2']);
    assert.deepEqual(s.drain(), []);
  });
});
