"""Run a command inside a locally built image without a container runtime, to prove what the image holds.

The machine has buildah but no working OCI runtime (crun refuses cgroups in hybrid mode, runc cannot set rlimits), so
the image is mounted with buildah and entered with ``unshare`` and ``chroot``: a private mount and PID namespace (and
a network namespace with only loopback, when asked), the image's root file system read-only, a tmpfs on /tmp, the
image's user and environment. That is the part of a container the proofs need: the image's own files and nothing of
this machine's Python.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def buildah() -> str | None:
    return shutil.which("buildah")


def image_exists(image: str) -> bool:
    tool = buildah()
    if tool is None:
        return False
    done = subprocess.run([tool, "inspect", "--type", "image", image], capture_output=True, text=True)
    return done.returncode == 0


def image_inspect(image: str) -> dict[str, Any]:
    done = subprocess.run([str(buildah()), "inspect", "--type", "image", image], capture_output=True, text=True,
                          check=True)
    return dict(json.loads(done.stdout))


def image_size(image: str) -> int:
    """Bytes of the image's layers, uncompressed, as `podman images` reports them."""
    done = subprocess.run(["podman", "image", "inspect", "--format", "{{.Size}}", image], capture_output=True,
                          text=True, check=True)
    return int(done.stdout.strip())


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: list[str]
    cmd: list[str]
    user: str
    env: dict[str, str]
    workdir: str

    @classmethod
    def of(cls, image: str) -> ImageConfig:
        config = image_inspect(image)["OCIv1"]["config"]
        env = dict(item.split("=", 1) for item in config.get("Env") or [])
        return cls(entrypoint=list(config.get("Entrypoint") or []), cmd=list(config.get("Cmd") or []),
                   user=config.get("User") or "0:0", env=env, workdir=config.get("WorkingDir") or "/")


@contextmanager
def mounted(image: str) -> Iterator[Path]:
    """The image's root file system, mounted through a throw-away working container."""
    tool = str(buildah())
    container = subprocess.run([tool, "from", "--pull=never", image], capture_output=True, text=True,
                               check=True).stdout.strip()
    try:
        root = subprocess.run([tool, "mount", container], capture_output=True, text=True, check=True).stdout.strip()
        yield Path(root)
    finally:
        subprocess.run([tool, "umount", container], capture_output=True)
        subprocess.run([tool, "rm", container], capture_output=True)


def run_in_image(image: str, args: list[str] | None = None, *, command: list[str] | None = None,
                 binds: dict[Path, str] | None = None, env: dict[str, str] | None = None, isolate_network: bool = True,
                 timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the image's entrypoint with ``args`` (or ``command`` instead of the entrypoint) as the image's user, under
    a read-only root. ``binds`` maps host directories to paths under /tmp, the one writable tree."""
    config = ImageConfig.of(image)
    argv = command if command is not None else [*config.entrypoint, *(args if args is not None else config.cmd)]
    environment = {**config.env, **(env or {})}
    with mounted(image) as root:
        steps = [
            # Private copies of the mounts, so nothing here reaches the host's mount table.
            f"mount --bind {root} {root}",
            f"mount -o remount,bind,ro {root}",
            f"mount -t proc proc {root}/proc",
            f"mount --rbind /dev {root}/dev",
            f"mount -t tmpfs -o mode=1777 tmpfs {root}/tmp",
        ]
        for host, target in (binds or {}).items():
            if not target.startswith("/tmp/"):
                raise ValueError(f"bind target {target} is not under /tmp, the only writable path")
            steps += [f"mkdir -p {root}{target}", f"mount --bind {shlex.quote(str(host))} {root}{target}"]
        if isolate_network:
            steps.append("ip link set lo up")
        user = config.user if ":" in config.user else f"{config.user}:{config.user}"
        inner = ["chroot", f"--userspec={user}", str(root), "/usr/bin/env", "-i",
                 *[f"{k}={v}" for k, v in environment.items()], "sh", "-c",
                 f"cd {shlex.quote(config.workdir)} && exec {shlex.join(argv)}"]
        script = " && ".join([*steps, f"exec {shlex.join(inner)}"])
        namespaces = ["--mount", "--pid", "--fork", "--propagation", "private"] + (["--net"] if isolate_network else [])
        return subprocess.run(["unshare", *namespaces, "sh", "-c", script], capture_output=True, text=True,
                              timeout=timeout)
