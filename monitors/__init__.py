"""Observability: what the gateway measures and how it is judged.

`monitors.metrics` is the Prometheus recorder; `monitors.quality` judges answers (detectors, per-answer judging,
quality counters); `monitors.analysis` turns stored comparisons into verdicts (statistics, policy, verdicts, the
guard, the report). Neither of the two imports the other; both sit above the store (`flags`) and the wire layer.
"""
