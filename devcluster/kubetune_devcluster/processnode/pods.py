"""Run one pod: volumes, init containers, containers, probes, restarts, deletion, and the status a kubelet writes."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..kubeapi import ApiError, Json, KubeREST
from ..lifetime import die_with_parent
from .containers import (
    Probe,
    container_argv,
    container_env,
    now_rfc3339,
    parse_quantity,
    process_tree_rss,
    runtime_argv,
    signal_group,
    write_launch_spec,
)
from .hosts import Member, pod_hostname
from .volumes import Mount, VolumeBuilder, VolumeNotReady, cleanup

if TYPE_CHECKING:
    from .node import ProcessNode

log = logging.getLogger(__name__)

TICK = 0.1
MEMORY_CHECK_EVERY = 0.5
MAX_BACKOFF = 30.0
TERMINATION_MESSAGE_LIMIT = 4096


@dataclass
class ContainerRun:
    """The live state of one container."""

    spec: Json
    init: bool = False
    proc: subprocess.Popen[bytes] | None = None
    started_at: float | None = None
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    state: Json = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: Json = field(default_factory=dict)
    restart_at: float | None = None
    oom_killed: bool = False
    liveness_killed: bool = False
    memory_limit: float | None = None
    readiness: Probe | None = None
    liveness: Probe | None = None
    startup: Probe | None = None
    next_memory_check: float = 0.0

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def terminated(self) -> Json | None:
        return self.state.get("terminated")


class PodRunner(threading.Thread):
    """Supervises one pod's processes until it ends or is deleted."""

    def __init__(self, node: ProcessNode, pod: Json) -> None:
        meta = pod["metadata"]
        super().__init__(name=f"pod-{meta['namespace']}/{meta['name']}", daemon=True)
        self.node = node
        self.api: KubeREST = node.api
        self.pod = pod
        self.uid = meta["uid"]
        self.ns = meta["namespace"]
        self.pod_name = meta["name"]
        self.dir = node.pod_dir(pod)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hosts_path = self.dir / "etc-hosts"  # mounted at /etc/hosts in every container (see hosts.py)
        self.deleting = threading.Event()
        self.vanished = threading.Event()
        self.ip = ""
        self.start_time = now_rfc3339()
        self.phase = "Pending"
        self.reason: str | None = None
        self.message: str | None = None
        self.conditions: dict[str, Json] = {}
        self.inits = [ContainerRun(c, init=True) for c in pod["spec"].get("initContainers") or []]
        self.containers = [ContainerRun(c) for c in pod["spec"]["containers"]]
        self._last_status: str | None = None
        self._mounts: dict[str, list[Mount]] = {}
        self._volume_paths: dict[str, Path] = {}
        if meta.get("deletionTimestamp"):
            self.deleting.set()

    # -- events from the watch ---------------------------------------------------------------------------------
    def update(self, pod: Json) -> None:
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp"):
            self.deleting.set()

    def member(self) -> Member:
        """The pod as cluster DNS sees it (for the hosts files of pods with a subdomain)."""
        return Member(self.pod, self.ip, (self.conditions.get("Ready") or {}).get("status") == "True",
                      self.phase in ("Succeeded", "Failed"))

    def vanish(self) -> None:
        """The pod object is gone (force deletion): stop at once."""
        self.vanished.set()
        self.deleting.set()

    # -- main loop ---------------------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except Exception:
            log.exception("pod %s/%s: runner crashed", self.ns, self.pod_name)
            self.kill_all(signal.SIGKILL)
        finally:
            self.node.release(self)

    def _run(self) -> None:
        self.ip = self.node.allocate_ip()
        self._set_condition("PodScheduled", True)
        self._set_condition("Initialized", not self.inits)
        self._set_condition("ContainersReady", False)
        self._set_condition("Ready", False)
        self._publish()
        if not self._prepare_volumes():
            self._finish_deletion()
            return
        self.node.hosts.write(self.hosts_path, self.member())
        if self.inits and not self._run_init_containers():
            if self.deleting.is_set():
                self._finish_deletion()
            return
        self._set_condition("Initialized", True)
        for run in self.containers:
            self._start(run)
        self.phase = "Running"
        self._publish()
        self._supervise()

    def _prepare_volumes(self) -> bool:
        warned = ""
        while not self.deleting.is_set():
            try:
                builder = VolumeBuilder(self.api, self.pod, self.dir, self.ip, self.node.ca_pem)
                self._volume_paths = builder.build_all()
                return True
            except VolumeNotReady as e:
                for run in [*self.inits, *self.containers]:
                    run.state = {"waiting": {"reason": "ContainerCreating", "message": e.message}}
                self._publish()
                if e.message != warned:
                    self.node.event(self.pod, "Warning", e.reason, e.message)
                    warned = e.message
                time.sleep(1.0)
        return False

    def _run_init_containers(self) -> bool:
        policy = self.pod["spec"].get("restartPolicy", "Always")
        for run in self.inits:
            while True:
                if not self._start(run):
                    return False
                self._publish()
                while run.proc and run.proc.poll() is None:
                    if self.deleting.is_set():
                        self.kill_all(signal.SIGTERM)
                        return False
                    time.sleep(TICK)
                self._record_exit(run)
                if run.terminated and run.terminated["exitCode"] == 0:
                    break
                if policy == "Never":
                    self.phase = "Failed"
                    self._publish()
                    return False
                run.restart_count += 1
                time.sleep(self._backoff(run))
        return True

    def _supervise(self) -> None:
        deadline = self.pod["spec"].get("activeDeadlineSeconds")
        started = time.monotonic()
        while True:
            now = time.monotonic()
            if self.deleting.is_set():
                self._finish_deletion()
                return
            if deadline is not None and now - started > float(deadline):
                self.kill_all(signal.SIGKILL)
                for run in self.containers:
                    self._record_exit(run)
                self.phase, self.reason = "Failed", "DeadlineExceeded"
                self.message = f"Pod was active on the node longer than the specified deadline ({deadline}s)"
                self._set_ready(False)
                self._publish()
                return
            for run in self.containers:
                self._tick(run, now)
            if self._terminal():
                self._set_ready(False)
                self._publish()
                return
            self._set_ready(all(r.ready for r in self.containers))
            self._publish()
            time.sleep(TICK)

    def _tick(self, run: ContainerRun, now: float) -> None:
        if run.proc is None:
            if run.restart_at is not None and now >= run.restart_at:
                run.restart_at = None
                self._start(run)
            return
        if run.proc.poll() is not None:
            self._record_exit(run)
            if self._should_restart(run):
                run.restart_count += 1
                delay = self._backoff(run)
                run.restart_at = now + delay
                run.last_state = {"terminated": run.terminated}
                run.state = {"waiting": {"reason": "CrashLoopBackOff",
                                         "message": f"back-off {delay:.0f}s restarting failed container"}}
                self.node.event(self.pod, "Warning", "BackOff", f"Back-off restarting container {run.name}")
            return
        if run.memory_limit and now >= run.next_memory_check:
            run.next_memory_check = now + MEMORY_CHECK_EVERY
            if process_tree_rss(run.proc.pid) > run.memory_limit:
                run.oom_killed = True
                signal_group(run.proc.pid, signal.SIGKILL)
                return
        self._probe(run, now)

    def _probe(self, run: ContainerRun, now: float) -> None:
        if run.startup and not run.started:
            if run.startup.due(now):
                result = run.startup.run(now, self._port_of(run))
                if result is True:
                    run.started = True
                    for probe in (run.readiness, run.liveness):
                        if probe:
                            probe.arm(now)
                elif result is False:
                    self._liveness_kill(run, "Startup probe failed")
            return
        run.started = True
        if run.readiness and run.readiness.due(now):
            result = run.readiness.run(now, self._port_of(run))
            if result is not None:
                run.ready = result
        elif run.readiness is None:
            run.ready = True
        if run.liveness and run.liveness.due(now) and run.liveness.run(now, self._port_of(run)) is False:
            self._liveness_kill(run, "Liveness probe failed")

    def _liveness_kill(self, run: ContainerRun, why: str) -> None:
        self.node.event(self.pod, "Warning", "Unhealthy", f"{why}; container {run.name} will be restarted")
        run.liveness_killed = True
        if run.proc:
            signal_group(run.proc.pid, signal.SIGKILL)

    # -- processes ---------------------------------------------------------------------------------------------
    def _start(self, run: ContainerRun) -> bool:
        spec = run.spec
        try:
            env = container_env(self.api, self.pod, spec, self.ip, self.node.base_env, self.node.api_host,
                                self.node.api_port)
            argv = container_argv(spec, env)
            mounts = self._container_mounts(run)
        except VolumeNotReady as e:
            run.state = {"waiting": {"reason": e.reason, "message": e.message}}
            self.node.event(self.pod, "Warning", "Failed", e.message)
            if e.reason == "CreateContainerError" and self.pod["spec"].get("restartPolicy") == "Never":
                run.state = {"terminated": {"exitCode": 128, "reason": "ContainerCannotRun", "message": e.message,
                                            "startedAt": now_rfc3339(), "finishedAt": now_rfc3339()}}
                return False
            run.restart_at = time.monotonic() + 1.0
            return False
        launch_spec = self.dir / f"{run.name}.launch.json"
        write_launch_spec(launch_spec, argv, env, [m.as_json() for m in mounts], spec.get("workingDir"),
                          hostname=pod_hostname(self.pod))
        log_file = (self.dir / f"{run.name}.log").open("ab")
        termination = self._termination_path(run)
        termination.write_bytes(b"")
        run.proc = subprocess.Popen(
            runtime_argv(launch_spec),
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
            env={"PATH": env.get("PATH", "/usr/bin:/bin")},
        )
        log_file.close()
        run.started_at = time.monotonic()
        run.state = {"running": {"startedAt": now_rfc3339()}}
        run.ready = False
        run.started = run.startup is None
        run.oom_killed = run.liveness_killed = False
        limits = (spec.get("resources") or {}).get("limits") or {}
        run.memory_limit = parse_quantity(limits["memory"]) if "memory" in limits else None
        if not run.init:
            run.readiness = Probe(spec["readinessProbe"], self.ip, env, spec.get("workingDir")) \
                if spec.get("readinessProbe") else None
            run.liveness = Probe(spec["livenessProbe"], self.ip, env, spec.get("workingDir")) \
                if spec.get("livenessProbe") else None
            run.startup = Probe(spec["startupProbe"], self.ip, env, spec.get("workingDir")) \
                if spec.get("startupProbe") else None
            for probe in (run.readiness, run.liveness, run.startup):
                if probe:
                    probe.arm(time.monotonic())
        self.node.event(self.pod, "Normal", "Started", f"Started container {run.name} (pid {run.proc.pid})")
        return True

    def _container_mounts(self, run: ContainerRun) -> list[Mount]:
        mounts = []
        for vm in run.spec.get("volumeMounts") or []:
            if vm["name"] not in self._volume_paths:
                raise VolumeNotReady("CreateContainerConfigError", f"volume {vm['name']!r} not found in the pod")
            source = self._volume_paths[vm["name"]]
            if vm.get("subPath"):
                source = source / vm["subPath"]
                if not source.exists():
                    source.mkdir(parents=True)
            mounts.append(Mount(str(source), vm["mountPath"], bool(vm.get("readOnly", False))))
        path = run.spec.get("terminationMessagePath") or "/dev/termination-log"
        mounts.append(Mount(str(self._termination_path(run)), path, False))
        if not any(m.target == "/etc/hosts" for m in mounts):  # the kubelet leaves a container's own alone too
            mounts.append(Mount(str(self.hosts_path), "/etc/hosts", False))
        return mounts

    def _termination_path(self, run: ContainerRun) -> Path:
        return self.dir / f"{run.name}.termination-log"

    def _record_exit(self, run: ContainerRun) -> None:
        if run.proc is None:
            return
        code = run.proc.wait()
        exit_code = 128 - code if code < 0 else code
        if run.oom_killed:
            reason = "OOMKilled"
        elif exit_code == 0:
            reason = "Completed"
        else:
            reason = "Error"
        message = self._termination_message(run, exit_code)
        terminated: Json = {"exitCode": exit_code, "reason": reason, "startedAt": run.state.get("running", {}).get(
            "startedAt", now_rfc3339()), "finishedAt": now_rfc3339(), "containerID": f"process://{run.proc.pid}"}
        if code < 0:
            terminated["signal"] = -code
        if message:
            terminated["message"] = message
        run.state = {"terminated": terminated}
        run.ready = False
        run.proc = None

    def _termination_message(self, run: ContainerRun, exit_code: int) -> str:
        try:
            data = self._termination_path(run).read_bytes()[:TERMINATION_MESSAGE_LIMIT]
        except OSError:
            data = b""
        if not data.strip() and exit_code != 0 and run.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            try:
                lines = (self.dir / f"{run.name}.log").read_bytes().splitlines()[-80:]
                data = b"\n".join(lines)[-2048:]
            except OSError:
                data = b""
        return data.decode(errors="replace")

    def _should_restart(self, run: ContainerRun) -> bool:
        policy = self.pod["spec"].get("restartPolicy", "Always")
        code = (run.terminated or {}).get("exitCode", 0)
        return policy == "Always" or (policy == "OnFailure" and code != 0)

    @staticmethod
    def _backoff(run: ContainerRun) -> float:
        # The kubelet starts at 10 s and caps at 5 min; the test ground keeps the shape but shorter.
        return float(min(MAX_BACKOFF, 2 ** max(0, run.restart_count - 1)))

    def _terminal(self) -> bool:
        if any(r.proc is not None or r.restart_at is not None for r in self.containers):
            return False
        if not all(r.terminated for r in self.containers):
            return False
        failed = any(r.terminated and r.terminated["exitCode"] != 0 for r in self.containers)
        self.phase = "Failed" if failed else "Succeeded"
        return True

    def kill_all(self, sig: signal.Signals) -> None:
        for run in [*self.inits, *self.containers]:
            if run.proc and run.proc.poll() is None:
                signal_group(run.proc.pid, sig)

    def wait_processes(self, deadline: float) -> None:
        """Wait, until ``deadline`` (monotonic), for every container's runtime process to exit (and with it its
        namespace)."""
        for run in [*self.inits, *self.containers]:
            proc = run.proc
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(max(0.0, deadline - time.monotonic()))

    def _finish_deletion(self) -> None:
        """SIGTERM, the grace period, SIGKILL; then remove the pod object as the kubelet does."""
        grace = self.pod["metadata"].get("deletionGracePeriodSeconds")
        if grace is None:
            grace = self.pod["spec"].get("terminationGracePeriodSeconds", 30)
        running = [r for r in [*self.inits, *self.containers] if r.proc and r.proc.poll() is None]
        if running and not self.vanished.is_set():
            self.node.event(self.pod, "Normal", "Killing", "Stopping containers")
        self.kill_all(signal.SIGTERM)
        deadline = time.monotonic() + (0 if self.vanished.is_set() else float(grace))
        while time.monotonic() < deadline and any(r.proc and r.proc.poll() is None for r in running):
            time.sleep(TICK)
        self.kill_all(signal.SIGKILL)
        for run in running:
            if run.proc:
                run.proc.wait()
                self._record_exit(run)
        if self.vanished.is_set():
            return
        if self.phase not in ("Succeeded", "Failed"):
            self.phase = "Failed" if any(
                r.terminated and r.terminated["exitCode"] != 0 for r in self.containers) else "Succeeded"
        self._set_ready(False)
        self._publish()
        try:
            self.api.delete(KubeREST.path_for("Pod", self.ns, self.pod_name),
                            {"gracePeriodSeconds": 0, "preconditions": {"uid": self.uid}})
        except ApiError as e:
            if e.status not in (404, 409):
                raise

    # -- status ------------------------------------------------------------------------------------------------
    def _port_of(self, run: ContainerRun) -> Any:
        def resolve(port: str | int) -> int:
            if isinstance(port, int) or str(port).isdigit():
                return int(port)
            for p in run.spec.get("ports") or []:
                if p.get("name") == port:
                    return int(p["containerPort"])
            raise ValueError(f"unknown named port {port}")

        return resolve

    def _set_condition(self, kind: str, value: bool) -> None:
        status = "True" if value else "False"
        current = self.conditions.get(kind)
        if current and current["status"] == status:
            return
        self.conditions[kind] = {"type": kind, "status": status, "lastProbeTime": None,
                                 "lastTransitionTime": now_rfc3339()}

    def _set_ready(self, ready: bool) -> None:
        self._set_condition("ContainersReady", ready)
        self._set_condition("Ready", ready)

    def _container_status(self, run: ContainerRun) -> Json:
        spec = run.spec
        status: Json = {
            "name": run.name, "image": spec.get("image", ""), "imageID": f"process-node://{spec.get('image', '')}",
            "ready": run.ready, "started": run.proc is not None and run.started, "restartCount": run.restart_count,
            "state": run.state, "lastState": run.last_state,
        }
        if run.proc is not None:
            status["containerID"] = f"process://{run.proc.pid}"
        return status

    def _publish(self) -> None:
        status: Json = {
            "phase": self.phase,
            "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.start_time,
            "conditions": list(self.conditions.values()),
            "containerStatuses": [self._container_status(r) for r in self.containers],
            "qosClass": self.pod.get("status", {}).get("qosClass", "BestEffort"),
        }
        if self.ip:
            status["podIP"], status["podIPs"] = self.ip, [{"ip": self.ip}]
        if self.inits:
            status["initContainerStatuses"] = [self._container_status(r) for r in self.inits]
        if self.reason:
            status["reason"], status["message"] = self.reason, self.message
        encoded = json.dumps(status, sort_keys=True)
        if encoded == self._last_status or self.vanished.is_set():
            return
        try:
            self.api.patch(KubeREST.path_for("Pod", self.ns, self.pod_name, subresource="status"), {"status": status})
            self._last_status = encoded
        except ApiError as e:
            if e.status == 404:
                self.vanished.set()
                self.deleting.set()
            else:
                log.warning("pod %s/%s: status update failed: %s", self.ns, self.pod_name, e)

    def cleanup(self) -> None:
        cleanup(self.dir)
