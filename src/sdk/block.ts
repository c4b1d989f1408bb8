/**
 * Typed client for block storage: volumes (create, attach, detach, extend)
 * and volume snapshots. `new BlockApi(client)` over any logged-in `YunClient`.
 *
 *   const b = new BlockApi(client);
 *   await b.volumes.create('data1', { sizeGb: 1 });
 *   await b.attach('data1', 'vm1'); await b.waitVolume('data1', 'in-use');
 */
import type { Resource } from '../core/resource.ts';
import type { SnapshotSpec, SnapshotStatus, VolumeSpec, VolumeStatus } from '../block/types.ts';
import type { ResourceClient, YunClient } from './client.ts';

export type VolumeResource = Resource<VolumeSpec, VolumeStatus>;
export type SnapshotResource = Resource<SnapshotSpec, SnapshotStatus>;
export type VolumeInput = Pick<VolumeSpec, 'sizeGb' | 'type' | 'fromSnapshot' | 'fromImage'>;

export class BlockApi {
  readonly volumes: ResourceClient<VolumeInput, VolumeStatus>;
  readonly snapshots: ResourceClient<Pick<SnapshotSpec, 'volume' | 'description'>, SnapshotStatus>;

  constructor(private readonly client: YunClient) {
    this.volumes = client.resource<VolumeInput, VolumeStatus>('volumes');
    this.snapshots = client.resource<Pick<SnapshotSpec, 'volume' | 'description'>, SnapshotStatus>('volume-snapshots');
  }

  /** Asks for the volume on `instance` (VM: virtio disk; container: filesystem at `mountPath`, default /mnt/<volume>). */
  attach(volume: string, instance: string, o: { mountPath?: string } = {}): Promise<VolumeResource> {
    return this.client.request('POST', `/v1/volumes/${encodeURIComponent(volume)}/actions/attach`, { body: { instance, ...o } });
  }

  detach(volume: string): Promise<VolumeResource> {
    return this.client.request('POST', `/v1/volumes/${encodeURIComponent(volume)}/actions/detach`, { body: {} });
  }

  extend(volume: string, sizeGb: number): Promise<VolumeResource> {
    return this.client.request('POST', `/v1/volumes/${encodeURIComponent(volume)}/actions/extend`, { body: { sizeGb } });
  }

  /** Waits for a volume state (throws on `error`, with the reason). */
  async waitVolume(name: string, state: VolumeStatus['state'], timeoutMs = 60_000): Promise<VolumeResource> {
    const r = await this.volumes.waitFor(name, (v) => v.status.state === state || v.status.state === 'error', timeoutMs);
    if (r.status.state === 'error' && state !== 'error') throw new Error(`volume ${name}: ${r.status.reason ?? 'error'}`);
    return r as VolumeResource;
  }

  async waitSnapshot(name: string, timeoutMs = 60_000): Promise<SnapshotResource> {
    const r = await this.snapshots.waitFor(name, (s) => s.status.state === 'available' || s.status.state === 'error', timeoutMs);
    if (r.status.state === 'error') throw new Error(`snapshot ${name}: ${r.status.reason ?? 'error'}`);
    return r as SnapshotResource;
  }
}
