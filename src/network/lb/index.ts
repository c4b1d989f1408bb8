/** Load balancer data planes. `node` is built in; others implement LoadBalancerDataPlane. */
export { NodeLoadBalancer, validateLb } from './node.ts';
export { matchRoute } from './http.ts';
export type * from './types.ts';
