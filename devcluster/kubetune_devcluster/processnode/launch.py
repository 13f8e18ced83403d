"""The container's first process, PID 1 of its own PID, mount and UTS namespaces (``unshare --mount --pid --uts --fork
--mount-proc``): sets the pod's hostname, bind-mounts the pod's volumes (and its /etc/hosts) at their container paths,
starts the container's command, and stays as its init.

As init it forwards the signals the node sends (SIGTERM first) to the command's process group, reaps whatever is
orphaned inside, and exits with the command's status (128 + n when a signal ended it). When it exits the kernel kills
every process left in the namespace: children that left the command's process group or double-forked away end with
the container, as they do under a container runtime. The command is not PID 1 itself because a PID 1 ignores every
signal it has no handler for, so a plain ``sleep`` would outlive SIGTERM.

Standard library only, run with ``python -I``: it starts before every container, so it must start fast.
"""

import contextlib
import ctypes
import json
import os
import signal
import sys
from typing import NoReturn

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


def _set_hostname(name: str) -> None:
    data = name.encode()
    if _libc.sethostname(data, len(data)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    os.unlink(sys.argv[1])  # it holds the container's environment, secrets included
    if spec.get("hostname"):
        try:
            _set_hostname(spec["hostname"])  # in the container's own UTS namespace, as a runtime sets it
        except OSError as e:
            print(f"process node: cannot set the hostname {spec['hostname']!r}: {e}", file=sys.stderr)
            sys.exit(128)
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
    run_as_init(spec["argv"], spec["env"])


# What a runtime's init passes on to the container's processes; SIGKILL needs no forwarding (it ends the namespace).
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
             signal.SIGWINCH)


def run_as_init(argv: list[str], env: dict[str, str]) -> NoReturn:
    watched = {*FORWARDED, signal.SIGCHLD}
    # Blocked before the fork: a signal that arrives while the command starts waits for sigwaitinfo below.
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)  # its own group: a forwarded signal reaches the command and its children once
            for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores these; a container starts with defaults
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            os.execvpe(argv[0], argv, env)
        except OSError as e:
            print(f"process node: cannot run {argv[0]!r}: {e}", file=sys.stderr, flush=True)
        os._exit(127)
    # Also here, so the group exists before the first forwarded signal (fails harmlessly once the child has exec'd).
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    while True:
        info = signal.sigwaitinfo(watched)
        if info.si_signo != signal.SIGCHLD:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, info.si_signo)
            continue
        while True:  # reap every child that ended: the command, and orphans re-parented to this init
            try:
                reaped, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if reaped == 0:
                break
            if reaped == pid:
                code = os.waitstatus_to_exitcode(status)
                os._exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
