"""Runs inside a fresh mount namespace (``unshare --mount``): bind-mounts the pod's volumes at their container
paths, then execs the container's command.

Standard library only, run with ``python -I``: it starts before every container, so it must start fast.
"""

import json
import os
import subprocess
import sys


def _ensure_mountpoint(target: str, is_dir: bool) -> None:
    # Creating the empty mount point touches the host file system; the mounted content stays private to the pod.
    if os.path.lexists(target):
        return
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a"):
            pass


def _bind(source: str, target: str, read_only: bool) -> None:
    _ensure_mountpoint(target, os.path.isdir(source))
    subprocess.run(["mount", "--bind", source, target], check=True)
    if read_only:
        subprocess.run(["mount", "-o", "remount,bind,ro", target], check=True)


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    # Parents before children, so a mount at /a/b is not hidden by a later mount at /a.
    for mount in sorted(spec["mounts"], key=lambda m: m["target"].rstrip("/").count("/")):
        try:
            _bind(mount["source"], mount["target"], mount.get("readOnly", False))
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"process node: cannot mount {mount['source']} at {mount['target']}: {e}", file=sys.stderr)
            sys.exit(128)
    workdir = spec.get("workingDir") or "/"
    try:
        os.chdir(workdir)
    except OSError as e:
        print(f"process node: cannot enter workingDir {workdir}: {e}", file=sys.stderr)
        sys.exit(128)
    argv = spec["argv"]
    env = spec["env"]
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        print(f"process node: cannot run {argv[0]!r}: {e}", file=sys.stderr)
        sys.exit(127)


if __name__ == "__main__":
    main()
