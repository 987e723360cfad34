"""Start-up: one small project pushed end to end from the command line, and what it imports.

Measures, with hyperfine when installed (else a loop of timed runs): the interpreter alone,
``flowpack --version``, a push of the first ``requests`` version into an empty store, the push of
the second version onto a store holding the first (a re-registration), and an unchanged re-push.
Then ``python -X importtime`` of a push lists the modules that cost the most.

Usage: python benchmarks/startup.py [--corpus-dir DIR] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

from flowpack_peer import flowpack_exe
from measure import Meter, python_env

HERE = Path(__file__).resolve().parent
RUNS = 15


def _bench(
    name: str, argv: list[str], prepare: str | None, work: Path, env: dict[str, str]
) -> dict[str, float]:
    """Mean, standard deviation and minimum wall time of ``argv`` in seconds."""
    if shutil.which("hyperfine"):
        out = work / f"{name}.json"
        cmd = ["hyperfine", "-N", "--style", "none", "--warmup", "3", "--runs", str(RUNS)]
        cmd += ["--export-json", str(out)]
        if prepare:
            script = work / f"{name}.prepare.sh"
            script.write_text(prepare + "\n")
            cmd += ["--prepare", f"sh {script}"]
        Meter().run([*cmd, " ".join(argv)], env=env)
        res = json.loads(out.read_text())["results"][0]
        return {"mean": res["mean"], "stddev": res["stddev"] or 0.0, "min": res["min"]}
    times = []
    for _ in range(RUNS):
        if prepare:
            Meter().run(["sh", "-c", prepare], env=env)
        times.append(Meter().run(argv, env=env).wall)
    return {"mean": statistics.mean(times), "stddev": statistics.stdev(times), "min": min(times)}


def measure(corpus_dir: Path, work: Path) -> dict[str, Any]:
    """Start-up figures (seconds) and the top import costs of a push."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    exe = flowpack_exe()
    v1, v2 = sorted((corpus_dir / "requests").iterdir())[:2]
    store, cache = work / "store", work / "cache"
    base_store, base_cache = work / "base-store", work / "base-cache"
    env = python_env(work / "pycache")
    env["FLOWPACK_CACHE"] = str(cache)
    env.pop("FLOWPACK_STORE", None)
    cold = {k: v for k, v in env.items() if k != "PYTHONPYCACHEPREFIX"}
    cold["PYTHONDONTWRITEBYTECODE"] = "1"

    def push(version: Path) -> list[str]:
        return [exe, "--store", str(store), "push", str(version), "--ref", "bench/one"]

    out: dict[str, Any] = {"exe": exe}
    out["python"] = _bench("python", [sys.executable, "-c", "pass"], None, work, env)
    out["python_s"] = _bench(
        "python_s", [sys.executable, "-I", "-S", "-c", "pass"], None, work, env
    )
    out["version"] = _bench("version", [exe, "--version"], None, work, env)
    out["push_fresh"] = _bench("push_fresh", push(v1), f"rm -rf {store} {cache}", work, env)
    # A store holding v1 under the ref, copied afresh before each timed push of v2.
    Meter().run(["sh", "-c", f"rm -rf {store} {cache}"])
    Meter().run(push(v1), env=env)
    cache.mkdir(parents=True, exist_ok=True)  # local stores may need no index cache
    shutil.copytree(store, base_store, symlinks=True)
    shutil.copytree(cache, base_cache, symlinks=True)
    reset = f"rm -rf {store} {cache} && cp -a {base_store} {store} && cp -a {base_cache} {cache}"
    out["push_next"] = _bench("push_next", push(v2), reset, work, env)
    out["push_same"] = _bench("push_same", push(v1), reset, work, env)
    fresh = f"rm -rf {store} {cache}"
    out["push_nopyc"] = _bench("push_nopyc", push(v1), fresh, work, cold)
    Meter().run(["sh", "-c", f"rm -rf {store} {cache}"])
    run = Meter().run([sys.executable, "-X", "importtime", *push(v1)], env=env)
    out["imports"] = parse_importtime(run.stderr.decode())
    return out


def parse_importtime(text: str) -> dict[str, Any]:
    """Import costs in microseconds: the total, the costliest modules, and self time by package."""
    modules: list[tuple[str, int, int]] = []
    per_package: dict[str, int] = {}
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, name = line[len("import time:") :].split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        modules.append(("  " * depth + name.strip(), int(self_us), int(cumulative)))
        package = name.strip().split(".")[0]
        per_package[package] = per_package.get(package, 0) + int(self_us)
    return {
        "total_us": sum(m[1] for m in modules),
        "modules": sorted(modules, key=lambda m: -m[2])[:20],
        "packages": sorted(per_package.items(), key=lambda kv: -kv[1])[:12],
    }


def render(s: dict[str, Any]) -> list[str]:
    def row(label: str, key: str) -> str:
        r = s[key]
        mean, dev, low = (round(r[k] * 1000) for k in ("mean", "stddev", "min"))
        return f"| {label} | {mean} ± {dev} ms | {low} ms |"

    lines = [
        "## Start-up (one `requests` version, from the command line)",
        "",
        f"`{s['exe']}`; {RUNS} runs each after 3 warm-ups (hyperfine when installed).",
        "",
        "| command | mean | min |",
        "| --- | --- | --- |",
        row("`python -c pass` (interpreter alone)", "python"),
        row("`python -I -S -c pass` (no `site`: no .pth hooks of this environment)", "python_s"),
        row("`flowpack --version` (CLI imports)", "version"),
        row("`flowpack push v1 --ref R` into an empty store", "push_fresh"),
        row("`flowpack push v2 --ref R` onto v1 (re-registration)", "push_next"),
        row("`flowpack push v1 --ref R` again (unchanged)", "push_same"),
        row("`flowpack push v1 --ref R` into an empty store, no bytecode cache", "push_nopyc"),
        "",
        f"`python -X importtime` of a push (importtime itself slows imports): "
        f"{s['imports']['total_us'] / 1000:.0f} ms of imports.",
        "",
        "Costliest modules (indented: imported by the module above) | self ms | cumulative ms",
        "",
        "| module | self ms | cumulative ms |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| `{name}` | {us / 1000:.1f} | {cum / 1000:.1f} |"
        for name, us, cum in s["imports"]["modules"]
    ]
    lines += ["", "Self time by top-level package:", "", "| package | ms |", "| --- | --- |"]
    lines += [f"| {name} | {us / 1000:.1f} |" for name, us in s["imports"]["packages"]]
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-dir", type=Path, default=HERE / "work" / "corpus")
    parser.add_argument("--work", type=Path, default=HERE / "work" / "startup")
    args = parser.parse_args()
    print("\n".join(render(measure(args.corpus_dir, args.work))))


if __name__ == "__main__":
    main()
