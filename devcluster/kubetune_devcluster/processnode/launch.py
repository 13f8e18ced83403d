"""Runs inside a fresh mount namespace (``unshare --mount``): bind-mounts the pod's volumes at their container
paths, then execs the container's command.

Standard library only, run with ``python -I``: it starts before every container, so it must start fast.
"""

import ctypes
import json
import os
import sys

MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, flags: int) -> None:
    if _libc.mount(source.encode() if source else None, target.encode(), None, flags, None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


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


def _bind(source_fd: int, is_dir: bool, target: str, read_only: bool) -> None:
    _ensure_mountpoint(target, is_dir)
    # Through the descriptor: an earlier mount (say, an emptyDir at /tmp) may hide the source's own path.
    _mount(f"/proc/self/fd/{source_fd}", target, MS_BIND | MS_REC)
    if read_only:
        _mount(None, target, MS_BIND | MS_REMOUNT | MS_RDONLY)


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    os.unlink(sys.argv[1])  # it holds the container's environment, secrets included
    mounts = sorted(spec["mounts"], key=lambda m: m["target"].rstrip("/").count("/"))
    try:
        sources = [os.open(m["source"], os.O_PATH | os.O_CLOEXEC) for m in mounts]
        image = [(p, os.open(p, os.O_PATH | os.O_CLOEXEC)) for p in spec.get("imagePaths", []) if os.path.isdir(p)]
    except OSError as e:
        print(f"process node: volume source missing: {e}", file=sys.stderr)
        sys.exit(128)
    # Parents before children, so a mount at /a/b is not hidden by a later mount at /a.
    for mount, fd in zip(mounts, sources, strict=True):
        try:
            _bind(fd, os.path.isdir(f"/proc/self/fd/{fd}"), mount["target"], mount.get("readOnly", False))
        except OSError as e:
            print(f"process node: cannot mount {mount['source']} at {mount['target']}: {e}", file=sys.stderr)
            sys.exit(128)
    # The node's environment stands in for the image: a volume mounted over one of its ancestors (an emptyDir at /tmp
    # while the virtualenv lives under /tmp) would hide it, so it is mounted back inside.
    for path, fd in image:
        if any(path.startswith(m["target"].rstrip("/") + "/") for m in mounts):
            try:
                _bind(fd, True, path, True)
            except OSError as e:
                print(f"process node: cannot keep {path} visible: {e}", file=sys.stderr)
                sys.exit(128)
    for fd in sources + [fd for _, fd in image]:
        os.close(fd)
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
