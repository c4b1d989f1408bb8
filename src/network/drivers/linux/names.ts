/**
 * Kernel object names. Linux interface names hold at most 15 characters, so
 * names are the owner prefix, a one-letter kind and a short hash of the yun id.
 * These names never leave the driver (except the netns path).
 */
import { createHash } from 'node:crypto';
import { YunError } from '../../../core/errors.ts';

export const PREFIX_RE = /^[a-z][a-z0-9]{1,4}$/;

export function validatePrefix(p: string): string {
  if (!PREFIX_RE.test(p)) throw new YunError('ValidationFailed', 'prefix must be 2-5 characters of [a-z0-9], starting with a letter', { field: 'prefix' });
  return p;
}

export const shortHash = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

export class Names {
  constructor(readonly prefix: string) {
    validatePrefix(prefix);
  }
  bridge(networkId: string) { return `${this.prefix}b${shortHash(`net:${networkId}`, 8)}`; }
  /** Host side of a port: the veth end on the bridge, or a VM port's tap. */
  hostVeth(portId: string) { return `${this.prefix}h${shortHash(`port:${portId}`, 9)}`; }
  tmpPeer(portId: string) { return `${this.prefix}c${shortHash(`port:${portId}`, 9)}`; }
  netns(instanceId: string) { return `${this.prefix}-${shortHash(`inst:${instanceId}`, 12)}`; }
  /** Named nft counter of a published port's reply bytes. */
  pubCounter(id: string) { return `pub_${shortHash(`pub:${id}`, 12)}`; }
  ingressChain(portId: string) { return `pi_${shortHash(`port:${portId}`, 10)}`; }
  egressChain(portId: string) { return `pe_${shortHash(`port:${portId}`, 10)}`; }
  get filterTable() { return this.prefix; }
  get natTable() { return `${this.prefix}_nat`; }
  get bridgeGlob() { return `${this.prefix}b*`; }
  isBridge(name: string) { return name.length === this.prefix.length + 9 && name.startsWith(`${this.prefix}b`); }
  isHostVeth(name: string) { return name.length === this.prefix.length + 10 && name.startsWith(`${this.prefix}h`); }
  isTmpPeer(name: string) { return name.length === this.prefix.length + 10 && name.startsWith(`${this.prefix}c`); }
  isNetns(name: string) { return name.length === this.prefix.length + 13 && name.startsWith(`${this.prefix}-`); }
  /** Default MAC for a port: locally administered, unicast, stable. */
  mac(portId: string) {
    const h = shortHash(`mac:${portId}`, 10);
    return `02:${h.match(/../g)!.join(':')}`;
  }
}
