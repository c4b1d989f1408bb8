/** Host weighers. Scores depend only on the host, so the scheduler keeps hosts sorted by score. */
import type { HostState, HostWeigher } from './types.ts';

const freeFraction = (h: HostState) => {
  const ram = h.limit.memoryMb > 0 ? (h.limit.memoryMb - h.used.memoryMb) / h.limit.memoryMb : 0;
  const cpu = h.limit.cpus > 0 ? (h.limit.cpus - h.used.cpus) / h.limit.cpus : 0;
  return ram + cpu / 16;
};

/** Spread: prefer the host with the most free room (Nova's default RAM weigher). */
export const spreadWeigher: HostWeigher = { name: 'spread', weigh: freeFraction };

/** Pack: prefer the fullest host that still fits (fewer hosts busy). */
export const packWeigher: HostWeigher = { name: 'pack', weigh: (h) => -freeFraction(h) };

export const WEIGHERS: Record<string, HostWeigher> = { spread: spreadWeigher, pack: packWeigher };
