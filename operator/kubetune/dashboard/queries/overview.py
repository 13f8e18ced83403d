"""The overview: counts by phase of each kind, the jobs still going with their progress, the models being served and
the latest verdicts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from . import comparisons, models, training


@dataclass(frozen=True)
class Overview:
    training_phases: dict[str, int]
    model_phases: dict[str, int]
    comparison_phases: dict[str, int]
    active_runs: list[training.Run]
    serving: list[models.ModelVersion]
    verdicts: list[comparisons.Comparison]

    @property
    def empty(self) -> bool:
        return not (self.training_phases or self.model_phases or self.comparison_phases)


def overview(connection: Connection) -> Overview:
    return Overview(training_phases=training.counts_by_phase(connection),
                    model_phases=models.counts_by_phase(connection),
                    comparison_phases=comparisons.counts_by_phase(connection),
                    active_runs=training.active_runs(connection),
                    serving=models.serving_versions(connection),
                    verdicts=comparisons.latest_verdicts(connection))
