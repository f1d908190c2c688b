"""latest.md (the tables), latest.json (every raw number) and latest.png (throughput ratios)."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

from bench.formats import NA, mib_text, ms_text, num_text, ratio, ratio_text, rps_text
from bench.load import SCENARIOS
from bench.runs import Run

TARGET = 1.5
#: average cores used by other processes during a point above which the point is marked noisy
NOISY_CORES = 0.25


def write(
    out: Path, *, run: Run, summary: dict, command: str, started: datetime.datetime, elapsed: float, versions: dict
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    context = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "elapsed_s": round(elapsed, 1),
        "machine": machine(),
        "versions": versions,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(run.args).items()},
    }
    rows = table_rows(run, summary)
    paths = [out / "latest.md", out / "latest.json", out / "latest.png"]
    paths[0].write_text(markdown(run, summary, rows, context), encoding="utf-8")
    raw = {
        **context,
        "transit": run.transit,
        "footprint": run.footprint,
        "medians": summary,
        "rows": rows,
        "samples": run.samples,
    }
    paths[1].write_text(json.dumps(raw, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    chart(rows, paths[2], context)
    return paths


def table_rows(run: Run, summary: dict) -> list[dict]:
    rows = []
    for scenario in run.scenarios:
        for concurrency in run.args.concurrency:
            key = f"{scenario.name}@{concurrency}"
            ob = summary.get("openbao", {}).get("points", {}).get(key)
            sr = summary.get("strongroom", {}).get("points", {}).get(key)
            row = {"scenario": scenario.name, "title": scenario.title, "concurrency": concurrency}
            for metric in ("rps", "p50", "p99"):
                row[f"openbao_{metric}"] = ob[metric] if ob else None
                row[f"strongroom_{metric}"] = sr[metric] if sr else None
                row[f"ratio_{metric}"] = ratio(row[f"strongroom_{metric}"], row[f"openbao_{metric}"])
            row["errors"] = {"openbao": ob["errors"] if ob else 0, "strongroom": sr["errors"] if sr else 0}
            for metric in ("server_cores", "other_cores"):
                row[f"openbao_{metric}"] = ob[metric] if ob else None
                row[f"strongroom_{metric}"] = sr[metric] if sr else None
            rows.append(row)
    return rows


def markdown(run: Run, summary: dict, rows: list[dict], context: dict) -> str:
    args, machine_info, v = run.args, context["machine"], context["versions"]
    lines = [
        "# Strongroom beside OpenBao",
        "",
        f"{context['date']} · `{context['command']}` ({args.mode} mode: {args.duration:g} s per point, "
        f"median of {args.repeats} repeat(s), wrk -t{args.threads}, run took {context['elapsed_s']:.0f} s)",
        "",
        "Throughput ratio = Strongroom / OpenBao (above 1: Strongroom serves more). "
        "Latency ratio = Strongroom / OpenBao (below 1: Strongroom answers sooner). Latencies in ms.",
        "",
        "| Scenario | Conc. | OpenBao req/s | Strongroom req/s | **SR/OB req/s** | OpenBao p50 | Strongroom p50 "
        "| SR/OB p50 | OpenBao p99 | Strongroom p99 | SR/OB p99 | server CPU cores OB / SR |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    flagged, noisy = [], []
    for row in rows:
        title = row["title"]
        if any(row["errors"].values()):
            title += " ⚠"
            flagged.append(row)
        if max(row["openbao_other_cores"] or 0, row["strongroom_other_cores"] or 0) > NOISY_CORES:
            title += " †"
            noisy.append(row)
        cores = " / ".join(
            "–" if row[f"{k}_server_cores"] is None else f"{row[f'{k}_server_cores']:.2f}"
            for k in ("openbao", "strongroom")
        )
        lines.append(
            f"| {title} | {row['concurrency']} | {rps_text(row['openbao_rps'])} | {rps_text(row['strongroom_rps'])} "
            f"| **{ratio_text(row['ratio_rps'])}** | {ms_text(row['openbao_p50'])} | {ms_text(row['strongroom_p50'])} "
            f"| {ratio_text(row['ratio_p50'])} | {ms_text(row['openbao_p99'])} | {ms_text(row['strongroom_p99'])} "
            f"| {ratio_text(row['ratio_p99'])} | {cores} |"
        )
    ratios = [r["ratio_rps"] for r in rows if r["ratio_rps"] is not None]
    if ratios:
        lines += [
            "",
            f"Throughput: Strongroom ≥ OpenBao at {sum(r >= 1 for r in ratios)} of {len(ratios)} points, "
            f"≥ {TARGET}× at {sum(r >= TARGET for r in ratios)}.",
        ]

    life = {kind: summary.get(kind, {}).get("lifecycle", {}) for kind in ("openbao", "strongroom")}
    foot = {kind: run.footprint.get(kind) for kind in ("openbao", "strongroom")}
    count = args.count

    def life_row(label: str, key: str, scale: float) -> str:
        ob, sr = life["openbao"].get(key), life["strongroom"].get(key)

        def show(x: float | None) -> str:
            return NA if x is None else num_text(x * scale)

        return f"| {label} | {show(ob)} | {show(sr)} | {ratio_text(ratio(sr, ob))} |"

    def foot_row(label: str, pick, show) -> str:  # noqa: ANN001
        ob = pick(foot["openbao"]) if foot["openbao"] else None
        sr = pick(foot["strongroom"]) if foot["strongroom"] else None
        return f"| {label} | {show(ob)} | {show(sr)} | {ratio_text(ratio(sr, ob))} |"

    lines += [
        "",
        f"## Lifecycle, memory, disk (lifecycle: median of {args.repeats}; memory and disk: one fresh server each)",
        "",
        "Ratio = Strongroom / OpenBao; below 1 is better for every row except the write rate.",
        "",
        "| Measure | OpenBao | Strongroom | SR/OB |",
        "|---|--:|--:|--:|",
        life_row("process start → first 200 on sys/seal-status (ms)", "start_s", 1e3),
        life_row("init, 1 share (ms)", "init_s", 1e3),
        life_row("unseal: threshold share request → `sealed:false` (ms)", "unseal_s", 1e3),
        life_row("unsealed → active, sys/health 200 (ms)", "unseal_to_active_s", 1e3),
        life_row(
            "seal: PUT sys/seal → 204, right after the load (requests in flight finish first) (ms)", "seal_s", 1e3
        ),
        life_row("seal: PUT sys/seal → 204, idle (ms)", "seal_idle_s", 1e3),
        foot_row(f"peak RSS (VmHWM) after writing {count:,} secrets (MiB)", lambda f: f["peak_rss_bytes"], mib_text),
        foot_row(
            f"data directory after writing {count:,} secrets (MiB, allocated)",
            lambda f: f["disk"]["allocated"],
            mib_text,
        ),
        foot_row(f"time to write {count:,} secrets, {args.in_flight} in flight (s)", lambda f: f["write_s"], num_text),
        foot_row(
            "  = secrets written per second",
            lambda f: f["count"] / f["write_s"] if f["write_s"] else None,
            lambda x: NA if x is None else f"{x:,.0f}",
        ),
        life_row("peak RSS (VmHWM) at the end of the load phase (MiB)", "peak_rss_under_load_bytes", 1 / 2**20),
    ]

    processes = {kind: f["processes"] for kind, f in foot.items() if f}
    lines += [
        "",
        "## Machine and versions",
        "",
        f"- Machine: {machine_info['nproc']} CPUs ({machine_info['cpu_model']}), {machine_info['memory']}, "
        f"{machine_info['os']}, kernel {machine_info['kernel']}. Server data directories in {tempfile.gettempdir()}.",
        f"- Load generator: {v['wrk']} (`wrk -t{args.threads} -c<conc> -d{args.duration:g}s --latency`, Lua scripts in "
        "`bench/lua/`) runs **on the same machine** as the server under test, so wrk and the server share "
        f"the {machine_info['nproc']} cores; one server runs at a time. "
        f"Bulk writes: asyncio on httpcore {v['httpcore']} (httpx {v['httpx']}'s transport), "
        f"{args.in_flight} connections; its rate is bound by this Python client's CPU as much as by the server.",
        f"- OpenBao {v['openbao']}: `bao server`, non-dev, raft storage in a temp dir (default raft timing), "
        "`disable_mlock` (2.7.2 warns that the field is unknown: it no longer mlocks), no TLS, 127.0.0.1, "
        "log_level warn. Its init on a fresh raft node is mostly the wait for raft's first election "
        "(heartbeat timeout 5 s plus jitter at the default performance_multiplier).",
        f"- Strongroom {v['strongroom']}: `strongroom server -config=...`, embedded sqlite storage in a temp dir, "
        f"no TLS, 127.0.0.1, log_level warn; {processes.get('strongroom', '?')} process(es). Python {v['python']}.",
        "- Each server: init with 1 share, unseal, wait for sys/health 200, KV v2 at `secret/`, root token. "
        f"Random reads and updates use {args.read_paths:,} paths written before the load; writes of new "
        "paths are unique per thread and request.",
        f"- Order: footprint phase (both servers), then {args.repeats} load repeat(s) on fresh servers; "
        "the order of the two servers alternates between repeats.",
    ]
    transit_notes = [f"{kind}: {reason}" for kind, reason in run.transit.items() if reason]
    if transit_notes and any(s.needs_transit for s in run.scenarios):
        lines.append(
            f"- Transit encrypt: n/a on both, because transit did not mount everywhere ({'; '.join(transit_notes)})."
        )
    for row in flagged:
        lines.append(
            f"- ⚠ {row['title']} at {row['concurrency']}: failed requests over the repeats "
            f"(non-2xx + socket errors): OpenBao {row['errors']['openbao']}, "
            f"Strongroom {row['errors']['strongroom']}."
        )
    for kind, title in (("openbao", "OpenBao"), ("strongroom", "Strongroom")):
        others = sorted(r[f"{kind}_other_cores"] for r in rows if r[f"{kind}_other_cores"] is not None)
        if others:
            lines.append(
                f"- Other processes on the machine during {title}'s points (neither the server nor wrk): "
                f"median {others[len(others) // 2]:.2f} cores, max {others[-1]:.2f}."
            )
    if args.wait_quiet > 0:
        waits = [
            p.get("waited_for_quiet_s", 0.0)
            for samples in run.samples.values()
            for sample in samples
            for p in sample["points"].values()
        ]
        lines.append(
            f"- Before each point the run waited up to {args.wait_quiet:g} s for other processes to leave "
            f"the CPUs (waited {sum(waits):.0f} s in all)."
        )
    if noisy:
        lines.append(
            f"- † = other processes used more than {NOISY_CORES} core on average during that point "
            "(median over repeats) for at least one server: treat that ratio with care."
        )
    lines += ["", "Raw numbers: `latest.json`; chart: `latest.png`.", ""]
    return "\n".join(lines)


def chart(rows: list[dict], path: Path, context: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = [s for s in SCENARIOS if any(r["scenario"] == s.name for r in rows)]
    concurrencies = sorted({r["concurrency"] for r in rows})
    width = 0.8 / max(len(concurrencies), 1)
    figure, axes = plt.subplots(figsize=(max(8, 1.7 * len(scenarios)), 6), dpi=120)
    colors = {c: plt.cm.viridis(0.15 + 0.6 * i / max(len(concurrencies) - 1, 1)) for i, c in enumerate(concurrencies)}
    top, any_noisy = TARGET, False
    for index, concurrency in enumerate(concurrencies):
        for position, scenario in enumerate(scenarios):
            row = next(r for r in rows if r["scenario"] == scenario.name and r["concurrency"] == concurrency)
            x = position - 0.4 + width * (index + 0.5)
            value = row["ratio_rps"]
            if value is None:
                axes.text(x, 0.03, NA, ha="center", va="bottom", rotation=90, fontsize=8, color="grey")
                continue
            top = max(top, value)
            noisy = max(row["openbao_other_cores"] or 0, row["strongroom_other_cores"] or 0) > NOISY_CORES
            any_noisy = any_noisy or noisy
            axes.bar(
                x,
                value,
                width * 0.92,
                color=colors[concurrency],
                hatch="///" if noisy else None,
                edgecolor="white" if noisy else None,
            )
            axes.text(x, value, f"{value:.2f}{' †' if noisy else ''}", ha="center", va="bottom", fontsize=7)
    for concurrency in concurrencies:
        axes.bar(0, 0, 0, color=colors[concurrency], label=f"{concurrency} connections")
    if any_noisy:
        axes.bar(0, 0, 0, color="grey", hatch="///", edgecolor="white", label=f"† other processes > {NOISY_CORES} core")
    axes.axhline(1.0, color="black", linewidth=1, label="1.0 = as fast as OpenBao")
    axes.axhline(TARGET, color="crimson", linewidth=1, linestyle="--", label=f"{TARGET} = goal")
    axes.set_xticks(range(len(scenarios)))
    axes.set_xticklabels([s.title.replace(", ", ",\n") for s in scenarios], fontsize=8)
    axes.set_ylabel("throughput ratio, Strongroom / OpenBao")
    axes.set_ylim(0, top * 1.15)
    axes.set_title(
        f"Strongroom vs OpenBao throughput · {context['date']} · "
        f"{context['machine']['nproc']} CPUs, wrk on the same machine",
        fontsize=10,
    )
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def machine() -> dict:
    model = "unknown CPU"
    memory = "? memory"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.0f} GiB RAM"
    except OSError:
        pass
    os_name = platform.system()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory": memory,
        "kernel": platform.release(),
        "os": os_name,
    }


def _output(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout or done.stderr).strip() if done.returncode in (0, 1) else None


def _first_line(command: list[str]) -> str:
    text = (_output(command) or "").splitlines()
    return text[0] if text else "unknown"


def versions() -> dict:
    from bench.servers import executable

    root = Path(__file__).resolve().parent.parent
    commit = _first_line(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    changed = len((_output(["git", "-C", str(root), "status", "--porcelain", "--", "strongroom"]) or "").splitlines())
    wrk = _first_line(["wrk", "--version"]).split(" Copyright")[0].strip()
    bao = _first_line([executable("bao"), "version"]).replace("OpenBao ", "")
    return {
        "openbao": bao,
        "strongroom": f"{importlib.metadata.version('strongroom')} (git {commit}"
        f"{f', {changed} uncommitted file(s) in strongroom/' if changed else ''})",
        "python": platform.python_version(),
        "wrk": wrk,
        "httpx": importlib.metadata.version("httpx"),
        "httpcore": importlib.metadata.version("httpcore"),
        "matplotlib": importlib.metadata.version("matplotlib"),
    }
