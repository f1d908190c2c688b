// The cluster: this node's role and, with HA, every node (sys/ha-status).

import { v1 } from '../api.js';
import { h, table } from '../dom.js';

export async function clusterPage() {
  const [leader, status] = await Promise.all([v1('GET', 'sys/leader'), v1('GET', 'sys/seal-status', undefined, { token: '' })]);
  const facts = h('dl', { class: 'facts' },
    h('dt', {}, 'Cluster name'), h('dd', {}, status.cluster_name || '—'),
    h('dt', {}, 'Storage'), h('dd', {}, status.storage_type || '—'),
    h('dt', {}, 'Seal'), h('dd', {}, `${status.type}, ${status.t} of ${status.n}`),
    h('dt', {}, 'Version'), h('dd', {}, status.version || '—'));
  if (!leader.ha_enabled) {
    return h('section', {}, h('h1', { tabindex: -1 }, 'Cluster'), facts,
      h('p', {}, 'This server runs as a single node: its storage is not shared for HA (see docs/ha.md).'));
  }
  const ha = await v1('GET', 'sys/ha-status');
  const nodes = ha.Nodes || (ha.data && ha.data.Nodes) || [];
  return h('section', {}, h('h1', { tabindex: -1 }, 'Cluster'), facts,
    h('p', {}, `Leader: ${leader.leader_address || 'none'}`),
    table(['Node', 'API address', 'Role', 'Last echo', 'Version'], nodes.map((node) => [
      node.hostname, node.api_address, node.active_node ? 'active' : 'standby', node.last_echo || '—', node.version,
    ]), 'Nodes'));
}
