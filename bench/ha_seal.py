"""Cluster seal: `PUT sys/seal` sent to a standby, timed to its answer; then which nodes say they are sealed.

Vault's and OpenBao's seal acts on the node that receives it (an OpenBao standby seals only itself,
or refuses with 500 when its standby reads are off, as Vault's standbys do); Strongroom's seals
every node of the cluster before it answers. Whatever the answer, it is recorded, not a failure.
Right after it every node is asked for a secret (which a sealed node refuses with 503) and for its
seal status, and `SETTLE` seconds later for its seal status again; all of it goes in the report.
Afterwards every sealed node is unsealed, so the next repeat starts from a whole cluster.
"""

from __future__ import annotations

import time

import httpx

from bench.ha_cluster import Cluster

SETTLE = 2.0
PROBE_PATH = "/v1/secret/data/bench/one"
SEAL_TIMEOUT = 120.0


def measure_cluster_seal(cluster: Cluster, repeat: int) -> dict:
    active = cluster.wait_for_roles()
    standbys = cluster.standbys(active)
    target = standbys[repeat % len(standbys)]
    began = time.perf_counter()
    response = target.http.put("/v1/sys/seal", timeout=SEAL_TIMEOUT)
    answer_s = time.perf_counter() - began
    serving = _serving(cluster)
    sealed_at_answer = _sealed(cluster)
    time.sleep(SETTLE)
    sealed_after_settle = _sealed(cluster)
    restored = time.perf_counter()
    cluster.unseal_sealed()
    return {
        "sent_to": target.name,
        "active_was": active.name,
        "seal_s": answer_s,
        "answer": _answer(response),
        "nodes": len(cluster.nodes),
        "serving_at_answer": serving,
        "sealed_at_answer": sealed_at_answer,
        "sealed_after_settle": sealed_after_settle,
        "unseal_again_s": time.perf_counter() - restored,
    }


def _answer(response: httpx.Response) -> str:
    """204, or the status and first error of a refusal (Vault's standbys answer 500 'cannot seal when in standby
    mode')."""
    if response.status_code == 204:
        return "204"
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        errors = []
    return f"{response.status_code} {errors[0] if errors else response.text.strip()[:80]}".strip()


def _serving(cluster: Cluster) -> list[str]:
    """The names of the nodes that still answer a secret's read with 200 (what a sealed cluster must not do)."""
    serving = []
    for node in cluster.nodes:
        try:
            if node.http.get(PROBE_PATH, timeout=5.0).status_code == 200:
                serving.append(node.name)
        except httpx.TransportError:
            continue
    return serving


def _sealed(cluster: Cluster) -> list[str]:
    """The names of the nodes whose sys/seal-status says sealed (a node that does not answer is not counted)."""
    return [node.name for node in cluster.nodes if node.is_sealed()]
