"""Many small files: a first push, an unchanged re-push, and a re-push after touching 1 %.

Builds a tree of ``--files`` files of ``--size`` bytes in ``--folders`` folders (the same bytes
on every run), waits until every file is older than the files cache's racy window, then times
three pushes of it to one ref of a fresh file store (its own local cache), each one CLI process
under GNU time: CPU time (user + system), wall time and peak RSS.  The peer, in the same run and
on the same tree, is ``git add -A && git commit`` into a repository kept outside the tree
(``--git-dir``/``--work-tree``; both commands counted: CPU summed, RSS the larger).

    python benchmarks/manyfiles.py [--files 100000] [--folders 100] [--size 40] [--out FILE.md]

CPU time is the figure to trust on a shared machine; wall time is shown beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIME = "/usr/bin/time"
#: Seconds to wait after writing files so that no ctime is within the racy window.
SETTLE = 3.5


def flowpack_exe() -> str:
    exe = Path(sys.executable).with_name("flowpack")
    return str(exe) if exe.exists() else "flowpack"


def timed(argv: list[str], env: dict[str, str], scratch: Path) -> tuple[float, float, int, str]:
    """(CPU s, wall s, peak RSS KiB, stdout) of one command, from GNU time."""
    out = scratch / "time.txt"
    proc = subprocess.run(
        [TIME, "-f", "%M %U %S %e", "-o", str(out), *argv], capture_output=True, env=env
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.decode(errors='replace')[-500:]}")
    rss, user, system, wall = out.read_text().split()[-4:]
    return float(user) + float(system), float(wall), int(rss), proc.stdout.decode()


def body(folder: int, i: int, size: int, version: int = 0) -> bytes:
    text = f"v{version} folder {folder} file {i} "
    return (text * (size // len(text) + 1)).encode()[: size - 1] + b"\n"


def build(tree: Path, files: int, folders: int, size: int) -> list[Path]:
    """Write the tree; return its files in a fixed order."""
    shutil.rmtree(tree, ignore_errors=True)
    paths = []
    per = files // folders
    for d in range(folders):
        folder = tree / f"d{d:03d}"
        folder.mkdir(parents=True)
        for i in range(per if d < folders - 1 else files - per * (folders - 1)):
            p = folder / f"f{i:05d}.txt"
            p.write_bytes(body(d, i, size))
            paths.append(p)
    return paths


def touch(paths: list[Path], share: float, size: int) -> int:
    """Rewrite every ``1/share``-th file with new bytes of the same size."""
    step = max(1, round(1 / share))
    picked = paths[::step]
    for n, p in enumerate(picked):
        p.write_bytes(body(-1, n, size, version=1))
    return len(picked)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--files", type=int, default=100_000)
    p.add_argument("--folders", type=int, default=100)
    p.add_argument("--size", type=int, default=40)
    p.add_argument("--touch", type=float, default=0.01, help="share of files changed")
    p.add_argument("--work", type=Path, default=HERE / "work" / "manyfiles")
    p.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    a = p.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    a.work.mkdir(parents=True)
    tree, store, git = a.work / "tree", a.work / "store", a.work / "git"
    env = dict(os.environ, FLOWPACK_CACHE=str(a.work / "cache"))
    env.update(GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b")
    env.update(GIT_COMMITTER_EMAIL="b@b")
    paths = build(tree, a.files, a.folders, a.size)
    time.sleep(SETTLE)
    push = [flowpack_exe(), "--json", "--store", store.as_uri(), "push", str(tree), "--ref", "t"]
    gitc = ["git", f"--git-dir={git}", f"--work-tree={tree}"]
    subprocess.run(["git", "init", "-q", "--bare", str(git)], check=True, env=env)
    rows = []
    for label in ("first push", "unchanged re-push", f"re-push, {a.touch:.0%} of files changed"):
        if label.startswith("re-push,"):
            changed = touch(paths, a.touch, a.size)
            label += f" ({changed:,})"
        cpu, wall, rss, out = timed(push, env, a.work)
        result = json.loads(out)
        g_add = timed([*gitc, "add", "-A"], env, a.work)
        g_commit = timed([*gitc, "commit", "-q", "--allow-empty", "-m", label], env, a.work)
        rows.append(
            (
                label,
                cpu,
                wall,
                rss,
                result["digest"],
                result["new_chunks"],
                g_add[0] + g_commit[0],
                g_add[1] + g_commit[1],
                max(g_add[2], g_commit[2]),
            )
        )
    lines = [
        f"{a.files:,} files of {a.size} bytes in {a.folders} folders "
        f"(`python benchmarks/manyfiles.py --files {a.files} --folders {a.folders}`):",
        "",
        "| push | flowpack CPU s | wall s | peak RSS | new chunks | git add+commit CPU s "
        "| wall s | peak RSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, cpu, wall, rss, _, new, gcpu, gwall, grss in rows:
        lines.append(
            f"| {label} | {cpu:.2f} | {wall:.2f} | {rss / 1024:.0f} MB | {new:,} | {gcpu:.2f} "
            f"| {gwall:.2f} | {grss / 1024:.0f} MB |"
        )
    same = rows[0][4] == rows[1][4]
    lines += ["", f"Unchanged re-push gives the first push's digest: {'yes' if same else 'NO'}."]
    text = "\n".join(lines)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
