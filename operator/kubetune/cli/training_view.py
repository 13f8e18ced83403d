"""The live picture of one TrainingJob that ``kubetune watch tj`` draws: phase and reason, a progress bar with
step/total and the operator's ETA, the loss with a sparkline of the curve seen so far, tokens/s.

Fed the raw TrainingJob on every poll. On a terminal it is a rich renderable redrawn in place; elsewhere (a pipe, a
CI log) ``line()`` gives one plain line per change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .output import duration, number

if TYPE_CHECKING:
    from rich.console import RenderableType

Json = dict[str, Any]
SPARK_POINTS = 48
PHASE_STYLES = {"Succeeded": "bold green", "Failed": "bold red", "Running": "bold cyan", "Suspended": "yellow",
                "Queued": "yellow", "Pending": "yellow", "Validating": "yellow"}


def sparkline(values: list[float], points: int = SPARK_POINTS) -> str:
    """The curve's last ``points`` values as Unicode blocks (the sparklines package scales them)."""
    if not values:
        return ""
    from sparklines import sparklines

    return str(sparklines(values[-points:])[0])


class TrainingView:
    def __init__(self, name: str, namespace: str) -> None:
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        self.name = name
        self.namespace = namespace
        self.tj: Json = {}
        self.losses: list[float] = []
        self._loss_step: int | None = None
        self._last_key: tuple[Any, ...] = ()
        self.progress = Progress(
            TextColumn("{task.fields[steps]}"), BarColumn(bar_width=None), TaskProgressColumn(),
            TextColumn("ETA {task.fields[eta]}"), expand=True, auto_refresh=False)
        self._task = self.progress.add_task("training", total=None, eta="-", steps="step -", start=False)

    # -- state -------------------------------------------------------------------------------------------------
    @property
    def status(self) -> Json:
        return self.tj.get("status") or {}

    @property
    def phase(self) -> str:
        return str(self.status.get("phase") or "Pending")

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")

    def update(self, tj: Json) -> None:
        self.tj = tj
        progress = self.status.get("progress") or {}
        step, loss = progress.get("step"), progress.get("loss")
        # One point per new loss: the trainer publishes a loss every logging window (10 steps by default), and the
        # steps between repeat it.
        if loss is not None and step is not None:
            if self._loss_step is not None and step < self._loss_step:
                self.losses.clear()  # a retry resumed from an earlier checkpoint: the curve restarts there
            if not self.losses or (step != self._loss_step and float(loss) != self.losses[-1]):
                self.losses.append(float(loss))
            self._loss_step = step
        total = progress.get("totalSteps")
        done = step or 0
        if self.phase == "Succeeded" and total:
            done = total
        if step is not None or total:
            self.progress.start_task(self._task)
        eta = progress.get("etaSeconds") if self.phase == "Running" else (0 if self.phase == "Succeeded" else None)
        steps = f"step {done}/{total}" if total else f"step {step if step is not None else '-'}"
        self.progress.update(self._task, completed=done, total=total or None, eta=duration(eta), steps=steps)

    # -- rendering ---------------------------------------------------------------------------------------------
    def _header(self) -> str:
        status = self.status
        style = PHASE_STYLES.get(self.phase, "bold")
        reason = status.get("reason")
        text = f"[bold]TrainingJob {self.name}[/] [dim]({self.namespace})[/]  [{style}]{self.phase}[/]"
        if reason:
            text += f"  {reason}"
        attempts = status.get("failedAttempts")
        if attempts:
            text += f"  [yellow]{attempts} failed attempt(s)[/]"
        return text

    def _metrics(self) -> str:
        progress = self.status.get("progress") or {}
        parts = []
        loss = progress.get("loss")
        if loss is not None:
            part = f"loss [bold]{number(loss, 4)}[/] {sparkline(self.losses)}"
            if len(self.losses) > 1:
                part += f"  [dim](first {number(self.losses[0], 4)}, min {number(min(self.losses), 4)})[/]"
            parts.append(part)
        if progress.get("evalLoss") is not None:
            parts.append(f"eval loss {number(progress['evalLoss'], 4)}")
        if progress.get("tokensPerSecond") is not None:
            parts.append(f"{number(progress['tokensPerSecond'], 4)} tokens/s")
        if progress.get("epoch") is not None:
            parts.append(f"epoch {progress['epoch']:.2f}")
        if progress.get("resumedFromStep"):
            parts.append(f"resumed from step {progress['resumedFromStep']}")
        return "   ".join(parts)

    def renderable(self) -> RenderableType:
        from rich.console import Group
        from rich.text import Text

        message = self.status.get("message")
        items: list[RenderableType] = [Text.from_markup(self._header())]
        if not (self.finished and not (self.status.get("progress") or {}).get("totalSteps")):
            items.append(self.progress)  # a job that failed before training has no bar to show
        metrics = self._metrics()
        if metrics:
            items.append(Text.from_markup(metrics))
        if message and not self.finished:
            items.append(Text(message, style="dim"))
        return Group(*items)

    def line(self) -> str | None:
        """A plain line when something a reader cares about changed (phase, reason, step), else None."""
        status = self.status
        progress = status.get("progress") or {}
        parts = [self.phase]
        if status.get("reason"):
            parts.append(str(status["reason"]))
        step, total = progress.get("step"), progress.get("totalSteps")
        if step is not None and self.phase in ("Running", "Succeeded", "Suspended"):
            parts.append(f"step {step}/{total}" if total else f"step {step}")
            if progress.get("percent") is not None:
                parts.append(f"{progress['percent']:.0f}%")
            if progress.get("loss") is not None:
                parts.append(f"loss {number(progress['loss'], 4)}")
            if progress.get("tokensPerSecond") is not None:
                parts.append(f"{number(progress['tokensPerSecond'], 4)} tokens/s")
            if progress.get("etaSeconds") is not None and self.phase == "Running":
                parts.append(f"ETA {duration(progress['etaSeconds'])}")
        elif status.get("message") and not self.finished:
            parts.append(str(status["message"]))
        # A log gets a line when the phase, reason or loss changes, and every 10% between, not on every step.
        percent = progress.get("percent")
        key = (self.phase, status.get("reason"), progress.get("loss"), None if percent is None else int(percent // 10),
               status.get("message") if step is None else None)
        if key == self._last_key:
            return None
        self._last_key = key
        return "  ".join(parts)
