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
  const nodes = (ha.data && ha.data.nodes) || ha.nodes || [];
  const role = leader.is_self ? 'the active node' : 'a standby: it serves reads and forwards writes to the active node';
  return h('section', {}, h('h1', { tabindex: -1 }, 'Cluster'), facts,
    h('p', {}, `This node is ${role}. Active node: ${leader.leader_address || 'none right now'}.`),
    table(['Node', 'API address', 'Role', 'Last echo', 'Version'], nodes.map((node) => [
      isThisNode(node.api_address) ? `${node.hostname} (this node)` : node.hostname,
      node.api_address,
      nodeRole(node),
      node.last_echo || '—',
      node.version,
    ]), 'Nodes'));
}

// A node's heartbeat says whether it is sealed: a sealed node serves nothing, so it is no standby.
function nodeRole(node) {
  if (node.active_node) return 'active';
  return node.sealed ? 'sealed' : 'standby';
}

// The node this page came from, when its api_addr is the address the browser uses (not behind a load balancer).
function isThisNode(apiAddress) {
  try {
    return new URL(apiAddress).origin === location.origin;
  } catch {
    return false;
  }
}
