"""Every primary answer goes through the detectors, in the background, after the client has it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from monitors.detectors.answer import AnswerJudge, AnswerJudgement
from monitors.quality_metrics import QualityMetrics
from shadow.answer import CapturedAnswer, captured

log = logging.getLogger("quantgate.shadow")


@dataclass(frozen=True, slots=True)
class PrimaryAnswer:
    """What the proxy captured of the answer it relayed (raw bytes, parsed later, off the request path)."""

    variant: str
    category: str
    raw: bytes
    streamed: bool
    ttft_s: float | None
    total_s: float
    usage_tokens: int | None
    complete: bool
    response_format: dict[str, Any] | None

    def parse(self) -> CapturedAnswer:
        """Reassemble the answer text."""
        return captured(self.variant, self.raw, self.streamed, self.ttft_s, self.total_s, self.complete,
                        self.usage_tokens)


def judge_answer(judge: AnswerJudge, answer: CapturedAnswer, response_format: dict[str, Any] | None,
                 category: str) -> AnswerJudgement:
    """Run the detectors on a captured answer."""
    return judge.judge(answer.text, answer.finish_reason, answer.output_tokens, response_format, category)


class AnswerJudging:
    """Bounded background queue of primary answers; a full queue drops (counted), never blocks."""

    def __init__(self, judge: AnswerJudge, metrics: QualityMetrics, queue_size: int) -> None:
        self.judge = judge
        self.metrics = metrics
        self._queue: asyncio.Queue[PrimaryAnswer] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None

    def submit(self, answer: PrimaryAnswer) -> None:
        """Queue a finished primary answer."""
        try:
            self._queue.put_nowait(answer)
        except asyncio.QueueFull:
            self.metrics.drops.labels("judging_queue_full").inc()

    def _judge(self, primary: PrimaryAnswer) -> None:
        try:
            judgement = judge_answer(self.judge, primary.parse(), primary.response_format, primary.category)
            self.metrics.observe_answer(primary.variant, primary.category, "primary", judgement)
        except Exception:  # noqa: BLE001 - one odd answer must not stop judging
            log.exception("judging a primary answer failed")
        finally:
            self._queue.task_done()

    async def _loop(self) -> None:
        while True:
            self._judge(await self._queue.get())
            # Drain what else is waiting in the same wake-up: fewer task switches under load.
            for _ in range(min(self._queue.qsize(), 256)):
                self._judge(self._queue.get_nowait())

    async def drain(self) -> None:
        """Wait until every queued answer was judged (tests, shutdown)."""
        await self._queue.join()

    def start(self) -> None:
        """Start the background judge."""
        self._task = asyncio.create_task(self._loop(), name="quantgate-answer-judging")

    async def stop(self) -> None:
        """Stop judging."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
