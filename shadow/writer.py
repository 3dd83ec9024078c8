"""Batched, bounded writes of comparison records, and the background retention purge."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from flags.comparisons import ComparisonStore, ShadowComparisonRow
from flags.engine import SchemaNotMigrated
from flags.model import utcnow
from monitors.quality.answer import CapturedAnswer
from monitors.quality.detectors.answer import AnswerJudgement
from shadow.compare import ShadowComparison
from shadow.redaction import Redactor
from shadow.settings import ComparisonStoreSettings

log = logging.getLogger("quantgate.shadow")


def comparison_row(comparison: ShadowComparison, routing_key_hash: str, stamps: tuple[dict[str, str], dict[str, str]],
                   prompt: str, settings: ComparisonStoreSettings, redact: Redactor) -> ShadowComparisonRow:
    """The stored form; texts only when enabled, truncated then redacted."""
    f = comparison.figures
    base, cand = comparison.baseline, comparison.candidate
    bj, cj = comparison.baseline_judgement, comparison.candidate_judgement

    def text(value: str) -> str | None:
        return redact(value[: settings.max_text_chars]) if settings.store_texts else None

    return ShadowComparisonRow(
        request_id=comparison.request_id, created_at=utcnow(), category=comparison.category,
        routing_key_hash=routing_key_hash, primary_variant=comparison.primary_variant,
        baseline_stamp_json=json.dumps(stamps[0]), candidate_stamp_json=json.dumps(stamps[1]),
        baseline_judgement_json=json.dumps(comparison.baseline_judgement.as_dict()),
        candidate_judgement_json=json.dumps(comparison.candidate_judgement.as_dict()),
        exact_match=f.exact_match, similarity=f.similarity, similarity_head=f.similarity_head,
        similarity_tail=f.similarity_tail, first_divergence=f.first_divergence, length_ratio=f.length_ratio,
        refusal_flip=comparison.refusal_flip, format_flip=comparison.format_flip,
        repetition_flip=comparison.repetition_flip, language_flip=comparison.language_flip,
        any_flip=comparison.any_flip,
        baseline_refused=bj.refused, candidate_refused=cj.refused, baseline_repetitive=bj.repetitive,
        candidate_repetitive=cj.repetitive, baseline_format_broken=bj.format_broken,
        candidate_format_broken=cj.format_broken, format_checked=bj.format_checked and cj.format_checked,
        baseline_ttft_s=base.ttft_s, candidate_ttft_s=cand.ttft_s, baseline_total_s=base.total_s,
        candidate_total_s=cand.total_s, baseline_output_tokens=base.output_tokens,
        candidate_output_tokens=cand.output_tokens,
        prompt_text=text(prompt), baseline_text=text(base.text), candidate_text=text(cand.text),
    )


@dataclass(frozen=True, slots=True)
class CensoredShadow:
    """A shadow answer that never completed: which arm, its first token if one came, how long it was waited for."""

    variant: str
    ttft_s: float | None
    waited_s: float
    failure: str = "timeout"  # or "abandoned" (the breaker gave up on a hung attempt)


def censored_row(request_id: str, category: str, routing_key_hash: str, primary: CapturedAnswer,
                 judgement: AnswerJudgement, shadow: CensoredShadow,
                 stamps: tuple[dict[str, str], dict[str, str]]) -> ShadowComparisonRow:
    """The stored form of a timed-out shadow: the primary's figures, the shadow's latencies as lower bounds."""
    ttft = shadow.ttft_s if shadow.ttft_s is not None else shadow.waited_s
    shadow_is_candidate = shadow.variant == "candidate"
    times = {"candidate" if shadow_is_candidate else "baseline": (ttft, shadow.waited_s),
             "baseline" if shadow_is_candidate else "candidate": (primary.ttft_s, primary.total_s)}
    judged = {"candidate" if shadow_is_candidate else "baseline": "{}",
              "baseline" if shadow_is_candidate else "candidate": json.dumps(judgement.as_dict())}
    return ShadowComparisonRow(
        request_id=request_id, created_at=utcnow(), category=category, routing_key_hash=routing_key_hash,
        primary_variant="baseline" if shadow_is_candidate else "candidate",
        baseline_stamp_json=json.dumps(stamps[0]), candidate_stamp_json=json.dumps(stamps[1]),
        baseline_judgement_json=judged["baseline"], candidate_judgement_json=judged["candidate"], exact_match=False,
        similarity=0.0, similarity_head=0.0, baseline_ttft_s=times["baseline"][0],
        candidate_ttft_s=times["candidate"][0], baseline_total_s=times["baseline"][1],
        candidate_total_s=times["candidate"][1], censored_arm=shadow.variant, ttft_censored=shadow.ttft_s is None,
        shadow_failure=shadow.failure)


def failed_row(request_id: str, category: str, routing_key_hash: str, failed_variant: str, failure: str,
               stamps: tuple[dict[str, str], dict[str, str]]) -> ShadowComparisonRow:
    """The stored form of a shadow that gave no answer and no latency worth keeping (an error, an open circuit):
    counted only by the failure rate, against the arm that failed."""
    return ShadowComparisonRow(
        request_id=request_id, created_at=utcnow(), category=category, routing_key_hash=routing_key_hash,
        primary_variant="baseline" if failed_variant == "candidate" else "candidate",
        baseline_stamp_json=json.dumps(stamps[0]), candidate_stamp_json=json.dumps(stamps[1]),
        baseline_judgement_json="{}", candidate_judgement_json="{}", exact_match=False, similarity=0.0,
        similarity_head=0.0, baseline_total_s=0.0, candidate_total_s=0.0, censored_arm=failed_variant,
        shadow_failure=failure)


class ComparisonWriter:
    """Queue in front of the store: the request path only ever does a non-blocking put."""

    def __init__(self, store: ComparisonStore, settings: ComparisonStoreSettings,
                 on_drop: Callable[[str], None]) -> None:
        self.store = store
        self.settings = settings
        self._on_drop = on_drop
        self._queue: asyncio.Queue[ShadowComparisonRow] = asyncio.Queue(maxsize=settings.queue_size)
        self._tasks: list[asyncio.Task[None]] = []
        self.written = 0
        self._pending = 0

    def submit(self, row: ShadowComparisonRow) -> bool:
        """Enqueue a record; a full queue drops it (counted) instead of blocking."""
        try:
            self._queue.put_nowait(row)
            self._pending += 1
            return True
        except asyncio.QueueFull:
            self._on_drop("record_queue_full")
            return False

    async def _next_batch(self) -> list[ShadowComparisonRow]:
        batch = [await self._queue.get()]
        deadline = asyncio.get_running_loop().time() + self.settings.flush_interval_s
        while len(batch) < self.settings.batch_size:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _write_loop(self) -> None:
        while True:
            batch = await self._next_batch()
            try:
                await asyncio.to_thread(self.store.insert_many, batch)
                self.written += len(batch)
            except (SQLAlchemyError, SchemaNotMigrated) as exc:
                log.warning("dropping %d comparison records: %s", len(batch), exc)
                for _ in batch:
                    self._on_drop("record_write_failed")
            finally:
                self._pending -= len(batch)

    async def _purge_loop(self) -> None:
        age = timedelta(hours=self.settings.retention_hours)
        while True:
            try:
                purged = await asyncio.to_thread(self.store.purge_older_than, age)
                if purged:
                    log.info("purged %d comparison records older than %s", purged, age)
            except (SQLAlchemyError, SchemaNotMigrated) as exc:
                log.warning("retention purge failed: %s", exc)
            await asyncio.sleep(self.settings.purge_interval_s)

    async def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until everything queued so far is written (used at shutdown and by tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._pending and loop.time() < deadline:
            await asyncio.sleep(0.02)

    def start(self) -> None:
        """Start the writer and the purge loops."""
        self._tasks = [asyncio.create_task(self._write_loop(), name="quantgate-comparison-writer"),
                       asyncio.create_task(self._purge_loop(), name="quantgate-comparison-purge")]

    async def stop(self) -> None:
        """Write what is queued (bounded wait), then stop."""
        await self.flush(5.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []
