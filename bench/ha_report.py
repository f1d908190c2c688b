"""ha-latest.md (the tables) and ha-latest.json (every raw number) of an HA run."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from bench.formats import NA, ms_text, num_text, ratio, ratio_text, rps_text
from bench.ha_nodes import OPENBAO_IDLE_CONNECTIONS, VARIANTS, Variant
from bench.ha_runs import NODES, VIAS, HARun
from bench.ha_seal import SETTLE
from bench.report import NOISY_CORES, machine

BASELINE = "openbao"


def write(
    out: Path, *, run: HARun, command: str, started: datetime.datetime, elapsed: float, versions: dict
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    summary = run.summary()
    context = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "elapsed_s": round(elapsed, 1),
        "machine": machine(),
        "versions": versions,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(run.args).items()},
    }
    paths = [out / "ha-latest.md", out / "ha-latest.json"]
    paths[0].write_text(markdown(run, summary, context), encoding="utf-8")
    raw = {**context, "medians": summary, "results": run.results}
    paths[1].write_text(json.dumps(raw, indent=1, default=str) + "\n", encoding="utf-8")
    return paths


def markdown(run: HARun, summary: dict, context: dict) -> str:
    args = run.args
    variants = [VARIANTS[key] for key in args.servers if key in summary]
    others = [variant for variant in variants if variant.key != BASELINE]
    lines = [
        "# Strongroom beside OpenBao: HA on PostgreSQL",
        "",
        f"{context['date']} · `{context['command']}` ({args.mode} mode: {NODES} nodes per server, {args.duration:g} s "
        f"per point, median of {args.repeats} repeat(s), {args.concurrency} connections, wrk -t{args.threads}; "
        f"{args.failovers} failover(s) and {args.seals} seal(s) per cluster; run took {context['elapsed_s']:.0f} s)",
        "",
        "Every ratio is the Strongroom figure ÷ OpenBao's. Throughput: higher is better (a ratio above 1: "
        "Strongroom serves more). Latency and times: lower is better (a ratio below 1: Strongroom is quicker).",
        "",
        "## Throughput and p99 latency, through the active node and through a standby",
        "",
        *_load_table(run, summary, variants, others),
        "",
        "## Failover and cluster seal",
        "",
        *_events_table(summary, variants, others),
        "",
        "## Machine, versions, method",
        "",
        *_notes(run, summary, context, variants),
        "",
        "Raw numbers (every wrk output, every failover and seal): `ha-latest.json`.",
        "",
    ]
    return "\n".join(lines)


def _load_table(run: HARun, summary: dict, variants: list[Variant], others: list[Variant]) -> list[str]:
    header = ["Scenario", "via"]
    header += [f"{variant.short} req/s" for variant in variants]
    header += [f"**{variant.short}/OB req/s**" for variant in others]
    header += [f"{variant.short} p99 ms" for variant in variants]
    header += [f"{variant.short}/OB p99" for variant in others]
    header += ["CPU cores, nodes + PostgreSQL: " + " / ".join(variant.short for variant in variants)]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "--:|" * (len(header) - 2)]
    for scenario in run.scenarios:
        for via in VIAS:
            key = f"{scenario.name}@{via}"
            point = {variant.key: summary[variant.key]["points"].get(key) for variant in variants}
            if not any(point.values()):
                continue
            title = scenario.title
            if any(p and p["errors"] for p in point.values()):
                title += " ⚠"
            if any(p and p["other_cores"] > NOISY_CORES for p in point.values()):
                title += " †"
            cells = [title, via]
            cells += [rps_text(_get(point[variant.key], "rps")) for variant in variants]
            cells += [f"**{ratio_text(_ratio_of(point, variant, 'rps'))}**" for variant in others]
            cells += [ms_text(_get(point[variant.key], "p99")) for variant in variants]
            cells += [ratio_text(_ratio_of(point, variant, "p99")) for variant in others]
            cells.append(" / ".join(_cores(point[variant.key]) for variant in variants))
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def _events_table(summary: dict, variants: list[Variant], others: list[Variant]) -> list[str]:
    header = ["Measure", *(variant.title for variant in variants), *(f"{v.short}/OB" for v in others)]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "--:|" * (len(header) - 1)]

    def timed(label: str, field: str, scale: float) -> str:
        cells = [label]
        for variant in variants:
            spread = summary[variant.key][field]
            cells.append(NA if spread is None else _spread_text(spread, scale))
            if field == "failover_write_s" and summary[variant.key]["failover_stuck"]:
                stuck, total = summary[variant.key]["failover_stuck"], summary[variant.key]["failovers"]
                cells[-1] += f"; **{stuck} of {total}: none within the window**"
            if field == "failover_write_s" and summary[variant.key].get("stuck_before_kill"):
                cells[-1] += (
                    f"; **{summary[variant.key]['stuck_before_kill']} standby(s) let no write through before any "
                    "kill (restarted)**"
                )
        for variant in others:
            cells.append(ratio_text(ratio(_median(summary, variant.key, field), _median(summary, BASELINE, field))))
        return "| " + " | ".join(cells) + " |"

    def counted(label: str, field: str) -> str:
        cells = [label]
        for variant in variants:
            counts = summary[variant.key][field]
            cells.append(", ".join(f"{nodes} of {NODES} ({times}×)" for nodes, times in counts.items()) or NA)
        cells += ["–" for _ in others]
        return "| " + " | ".join(cells) + " |"

    failed_writes = "| writes through the standby that failed meanwhile (median, min–max) | " + " | ".join(
        NA
        if summary[variant.key]["failed_writes"] is None
        else "{median:g} ({min:g}–{max:g})".format(**summary[variant.key]["failed_writes"])
        for variant in variants
    )
    failed_writes += " |" + " – |" * len(others)
    lines += [
        timed(
            "failover: kill -9 of the active → first successful write through a surviving standby (s)",
            "failover_write_s",
            1.0,
        ),
        timed(
            "failover: kill -9 of the active → a surviving node answers sys/health 200 (s)", "failover_active_s", 1.0
        ),
        timed(
            "failover: kill -9 of the active → first successful write to that node (a client that follows "
            "sys/health) (s)",
            "failover_active_write_s",
            1.0,
        ),
        failed_writes,
        timed("cluster seal: PUT sys/seal sent to a standby → its answer (ms)", "seal_s", 1e3),
        "| its answer | "
        + " | ".join(
            ", ".join(f"{answer} ({times}×)" for answer, times in summary[variant.key]["seal_answers"].items()) or NA
            for variant in variants
        )
        + " |"
        + " – |" * len(others),
        counted(
            "nodes that still served a secret (GET secret/data/bench/one → 200) right after that answer",
            "serving_at_answer",
        ),
        counted("nodes sealed (sys/seal-status) right after that answer", "sealed_at_answer"),
        counted(f"nodes sealed {SETTLE:g} s later", "sealed_after_settle"),
        timed(
            f"bring-up: {NODES} starts, init, {NODES} unseals → one active and the rest standby, KV mounted (s)",
            "bring_up_s",
            1.0,
        ),
        "",
        "Times: median (min–max) over the repeats. The count rows say in how many repeats that many nodes were "
        "found so.",
    ]
    return lines


def _notes(run: HARun, summary: dict, context: dict, variants: list[Variant]) -> list[str]:
    m, v, args = context["machine"], context["versions"], run.args
    lines = [
        f"- Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory']}, {m['os']}, kernel {m['kernel']}. "
        f"wrk ({v['wrk']}), the {NODES} nodes of the cluster under test and PostgreSQL all share these cores; one "
        "cluster runs at a time.",
        f"- PostgreSQL {v.get('postgresql', '?')}, started by `scripts/postgres-setup` (fsync and synchronous_commit "
        "on); each cluster gets a fresh database, dropped at the end.",
    ]
    if any(variant.is_openbao for variant in variants):
        lines.append(
            f'- OpenBao {v["openbao"]}: `bao server`, `storage "postgresql"` with `ha_enabled = "true"`, Vault\'s '
            "documented tables (`vault_kv_store`, `vault_ha_locks`) made before the nodes start, `api_addr` and "
            "`cluster_addr` per node, no TLS on the API, `disable_mlock` (2.7 warns that the field is unknown). "
            "Its HA lock in PostgreSQL lives 15 s and is renewed every 5 s, so a killed active node's lock "
            "lapses 10-15 s after the kill; standbys retry it every second. Its standbys serve reads themselves "
            "(standby reads are on by default with PostgreSQL; the active node streams cache invalidations to them "
            "over the cluster port) and forward writes to the active node; `disable_standby_reads = true` "
            "(OpenBao (disable_standby_reads), when measured) makes them forward every request. Its `sys/seal` "
            "sent to a standby seals only that node (with standby reads off, the standby refuses it: 500). "
            f'`max_idle_connections = "{OPENBAO_IDLE_CONNECTIONS}"`: with '
            "Go's default of 2 idle connections, OpenBao opened (and authenticated) a new PostgreSQL connection for "
            "about every other request under load and served 3-4 times fewer reads."
        )
    if not all(variant.is_openbao for variant in variants):
        lines.append(
            f'- Strongroom {v["strongroom"]}: `strongroom server`, `storage "postgresql"` with `ha_enabled = "true"` '
            "(it makes its own tables), `api_addr` per node, no TLS; each node unseals itself with the share. "
            f"Python {v['python']}."
        )
    for variant in variants:
        result = run.results[variant.key]
        transit = result["transit"]
        lines.append(
            f"- {variant.title}: {result['processes_per_node']} process(es) per node; transit "
            + ("mounted" if transit is None else f"not measured ({transit})")
            + "."
        )
    lines += [
        f"- Load: `wrk -t{args.threads} -c{args.concurrency} -d{args.duration:g}s --latency` with the Lua scripts "
        f"of `bench/lua/`, root token. {args.read_paths:,} paths are written through the active node before "
        "the load (and read back through the standby before it starts); writes of new paths are unique per "
        "thread and request. 'via standby' sends every request to a standby, which serves or forwards it as its "
        "server does.",
        "- Failover: a client writes one new secret after another through a standby that survives; the active "
        "node's process group gets SIGKILL; the figure is kill → the answer to the first write sent after the kill "
        "that succeeded (a failed write is retried after 10 ms). Then the killed node is started again and "
        "unsealed, and the next repeat kills whichever node is active then. Beside it, a client that follows "
        "sys/health: it asks the survivors until one answers 200, and writes to that one. A standby that lets no "
        f"write through within {args.failover_window:g} s (the window) counts as stuck: the row says in how many "
        "repeats, the median is over the others, and the stuck standby is killed and started again before the "
        "next repeat. A standby that lets no write through for 30 s before the kill (it never learned the active "
        "node after an earlier failover) is counted, killed and started again, and the repeat begins afresh.",
        "- Cluster seal: PUT sys/seal with the root token to a standby (a different one each repeat); right after "
        "its answer, a secret's read and sys/seal-status on every node, and sys/seal-status again "
        f"{SETTLE:g} s later; then every sealed node is unsealed again.",
    ]
    for variant in variants:
        for key, point in summary[variant.key]["points"].items():
            if point["errors"]:
                lines.append(f"- ⚠ {variant.title}, {key.replace('@', ' via ')}: {point['errors']} failed requests.")
    if args.wait_quiet > 0:
        waits = [
            point.get("waited_for_quiet_s", 0.0)
            for result in run.results.values()
            for samples in result["points"].values()
            for point in samples
        ]
        lines.append(
            f"- Before each point the run waited up to {args.wait_quiet:g} s for other processes to leave the CPUs "
            f"(waited {sum(waits):.0f} s in all)."
        )
    if any(p["other_cores"] > NOISY_CORES for s in summary.values() for p in s["points"].values()):
        lines.append(
            f"- † = other processes used more than {NOISY_CORES} core on average during that point: treat it with care."
        )
    return lines


def _spread_text(spread: dict, scale: float) -> str:
    low, high = num_text(spread["min"] * scale), num_text(spread["max"] * scale)
    return f"{num_text(spread['median'] * scale)} ({low}–{high})"


def _cores(point: dict | None) -> str:
    if point is None:
        return NA
    return f"{point['server_cores']:.2f} + {point['postgres_cores']:.2f}"


def _get(point: dict | None, metric: str) -> float | None:
    return None if point is None else point[metric]


def _ratio_of(point: dict, variant: Variant, metric: str) -> float | None:
    return ratio(_get(point[variant.key], metric), _get(point.get(BASELINE), metric))


def _median(summary: dict, key: str, field: str) -> float | None:
    spread = summary.get(key, {}).get(field)
    if isinstance(spread, dict):
        return spread["median"]
    return spread if isinstance(spread, int | float) else None
