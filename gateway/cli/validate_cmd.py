"""`quantgate validate` and `quantgate validations ls|show`: the pre-ship gate's evidence."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape

if TYPE_CHECKING:
    pass

from gateway.cli.admin_client import AdminApiError
from gateway.cli.admin_target import ActorOption, AdminConfig, AdminToken, AdminUrl, admin_client, default_actor
from gateway.cli.console import command_group, console, fail
from gateway.cli.fitted_table import Column, cell_text, fitted_table
from gateway.cli.tables import validation_table
from wire.terminal_text import control_characters_in

validations_app = command_group("Validation records of the pre-ship gate (through the admin API).")
EXIT_FAIL, EXIT_INCONCLUSIVE = 3, 4
DEFAULT_CACHE = Path.home() / ".cache" / "quantgate" / "validation-answers"


async def _answer_both(suite: Any, settings: Any, cache_dir: Path, concurrency: int, sampling: Any,
                       identity: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from evals.runner import answer_suite, cache_path

    with Progress(TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console.rich()) as progress:
        runs = []
        for variant, backend in (("baseline", settings.baseline), ("candidate", settings.candidate)):
            task = progress.add_task(variant, total=len(suite.items))
            cache = cache_path(cache_dir, identity[variant], backend, sampling)
            runs.append(answer_suite(suite, backend, cache, concurrency, sampling,
                                     lambda task=task: progress.advance(task)))
        baseline, candidate = await asyncio.gather(*runs)
    return baseline, candidate


async def _identities(settings: Any) -> dict[str, Any]:
    import asyncio

    import aiohttp

    from gateway.backend_check import check_backend_settings

    async with aiohttp.ClientSession() as session:
        checks = await asyncio.gather(check_backend_settings("baseline", settings.baseline, session),
                                      check_backend_settings("candidate", settings.candidate, session))
    return {check.variant: check.identity() for check in checks}


def _early_warning(settings: Any, suite: Any, baseline: dict[str, Any], concurrency: int,
                   top_k: int) -> dict[str, Any] | None:
    """The token-level early warning; None (with a warning) when a backend does not serve prompt_logprobs."""
    import asyncio

    import aiohttp

    from evals.early_warning import ScoringError, early_warning

    backends = {"baseline": settings.baseline, "candidate": settings.candidate}
    try:
        return asyncio.run(early_warning(backends, suite.items, baseline, concurrency, top_k))
    except (ScoringError, aiohttp.ClientError, TimeoutError) as exc:
        console.print(f"warning: no token-level early warning: {escape(str(exc))}")
        return None


def _performance(settings: Any, suite: Any, policy: Any) -> dict[str, Any]:
    """The payoff half: both arms timed on the policy's batch profile, one after the other."""
    import asyncio

    from evals.performance.measure import PerformanceRunError
    from evals.performance.stage import run_stage

    profile = policy.performance
    console.print(f"timing both arms: concurrency {profile.concurrency}, {profile.rounds} rounds of "
                  f"{profile.requests} requests each after {profile.warmup} warm-up, {profile.output_tokens} tokens")
    backends = {"baseline": settings.baseline, "candidate": settings.candidate}
    try:
        stage = asyncio.run(run_stage(backends, suite.items, profile, policy.significance))
    except PerformanceRunError as exc:
        fail(f"the performance stage failed: {exc}")
    return stage.as_dict()


def _print_result(summary: dict[str, Any], result: dict[str, Any]) -> None:
    """One line per category (80 columns); the card has every test."""
    out = console.rich()
    out.print(validation_table(out, summary, result))
    performance = result.get("performance")
    if performance:
        out.print(f"Did it improve? {performance['headline']}", markup=False)
        for callout in performance["callouts"]:
            out.print(f"[bold yellow]warning:[/bold yellow] {escape(callout)}")


def validate(
    config: Annotated[Optional[Path], typer.Option(help="The gateway's YAML settings (backends, policy, store).",
                                                   envvar="QUANTGATE_CONFIG_FILE")] = None,
    suite_file: Annotated[Optional[Path], typer.Option("--suite", help="A JSONL suite (default: built-in).")] = None,
    per_category: Annotated[Optional[int], typer.Option(help="Only the first N items per category (smoke run).",
                                                        min=1)] = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight per backend.", min=1, max=256)] = 4,
    cache_dir: Annotated[Path, typer.Option(help="Where answers are kept (a rerun resumes).")] = DEFAULT_CACHE,
    card_dir: Annotated[Path, typer.Option(help="Where the disclosure card is written.")] = Path("validations"),
    actor: ActorOption = None,
    apply_pins: Annotated[bool, typer.Option(help="Pin categories that did not pass to the baseline (audited).")]
    = False,
    performance: Annotated[Optional[bool], typer.Option(
        "--performance/--no-performance", help="Time both arms on the policy's batch profile (default: the "
        "policy's `performance.enabled`).")] = None,
    early_warning: Annotated[bool, typer.Option(
        "--early-warning/--no-early-warning", help="Score the baseline's answers with both arms (prompt_logprobs): "
        "perplexity ratio, KL divergence and top-1 agreement per category, beside the verdicts.")] = True,
) -> None:
    """Evaluate the candidate against the baseline on the suite, store the record, write its disclosure card.

    Exit status: 0 pass, 3 fail (a category regressed), 4 inconclusive, 1 error.
    """
    import asyncio

    from evals.runner import BackendAnswerError, Sampling
    from evals.suite import SuiteFileError, builtin_suite, load_suite
    from evals.validation import RunFacts, evaluate
    from gateway.settings import load_settings
    from monitors.analysis.policy import load_policy
    from monitors.quality.detectors.answer import AnswerJudge

    actor = actor or default_actor()
    if found := control_characters_in(actor):
        fail(f"--actor holds control characters ({', '.join(found)})")
    try:
        settings = load_settings(config)
        policy = load_policy(settings.policy_file)
        suite = load_suite(suite_file) if suite_file else builtin_suite()
    except (FileNotFoundError, ValueError, SuiteFileError) as exc:
        fail(str(exc))
        return
    if per_category:
        suite = suite.reduced(per_category)
    identity = asyncio.run(_identities(settings))
    unreachable = [variant for variant, found in identity.items() if found is None]
    if unreachable:
        fail(f"cannot reach the {' and '.join(unreachable)} backend (GET /v1/models)")
    sampling = Sampling()
    console.print(f"validating {settings.candidate.stamp.model} ({settings.candidate.stamp.quantization}) against "
                  f"{settings.baseline.stamp.model} on {suite.version}, {len(suite.items)} items, policy "
                  f"{policy.stamp()}")
    started = time.perf_counter()
    try:
        baseline, candidate = asyncio.run(_answer_both(suite, settings, cache_dir, concurrency, sampling, identity))
    except BackendAnswerError as exc:
        fail(f"{exc} (answers so far are kept; run again to resume)")
        return
    stamps = (settings.baseline.stamp.as_labels(), settings.candidate.stamp.as_labels())
    result = evaluate(suite, baseline, candidate, policy, stamps, AnswerJudge(settings.detectors))
    _further_stages(result, settings, suite, policy, baseline, concurrency, early_warning,
                    policy.performance.enabled if performance is None else performance)
    facts = RunFacts(actor, policy, suite, stamps, identity,
                     {v: {"base_url": b.base_url, "served_model_name": b.served_model_name}
                      for v, b in (("baseline", settings.baseline), ("candidate", settings.candidate))},
                     time.perf_counter() - started, concurrency,
                     {"temperature": sampling.temperature, "seed": sampling.seed})
    _record(settings, result, facts, card_dir, apply_pins)
    raise typer.Exit(0 if result.outcome == "pass" else EXIT_FAIL if result.outcome == "fail" else EXIT_INCONCLUSIVE)


def _further_stages(result: Any, settings: Any, suite: Any, policy: Any, baseline: dict[str, Any], concurrency: int,
                    early_warning: bool, performance: bool) -> None:
    """The token-level early warning and the payoff half, after the quality half."""
    if early_warning and (warning := _early_warning(settings, suite, baseline, concurrency,
                                                     policy.early_warning.top_k)) is not None:
        result.with_early_warning(warning, policy.early_warning)
    if performance:
        result.with_performance(_performance(settings, suite, policy))


def _record(settings: Any, result: Any, facts: Any, card_dir: Path, apply_pins: bool) -> None:
    """Store the record, write its card, print the table, and pin what did not pass when asked."""
    from evals.validation import record_of
    from flags.store import FlagStore, FlagStoreUnavailable

    store = FlagStore(settings.flag_store_url, settings.flag_store_timeouts)
    try:
        store.ensure_schema()
        validation_id = store.add_validation(record_of(result, facts))
        summary, body = store.validation(validation_id) or (None, {})
    except FlagStoreUnavailable as exc:
        fail(f"the validation ran but could not be stored: {exc}")
    assert summary is not None
    _write_card(card_dir, summary.as_dict(), body)
    _print_result(summary.as_dict(), body)
    if apply_pins and result.pins():
        _pin(store, result.pins(), validation_id, facts.actor)


def _write_card(card_dir: Path, summary: dict[str, Any], result: dict[str, Any]) -> None:
    from evals.card import card_html, card_markdown

    card_dir.mkdir(parents=True, exist_ok=True)
    stem = card_dir / f"validation-{summary['id']}"
    stem.with_suffix(".md").write_text(card_markdown(summary, result), encoding="utf-8")
    stem.with_suffix(".html").write_text(card_html(summary, result), encoding="utf-8")
    console.print(f"disclosure card: {stem.with_suffix('.md')} and {stem.with_suffix('.html')}")


def _pin(store: Any, pins: dict[str, str], validation_id: int, actor: str) -> None:
    from flags.store import FlagStoreUnavailable
    from flags.updates import FlagUpdate

    update = FlagUpdate(category_overrides=pins, actor=actor,  # type: ignore[arg-type]
                        reason=f"validation #{validation_id}: ship the candidate only where it passed")
    try:
        flags = store.apply(update, actor)
    except FlagStoreUnavailable as exc:
        fail(f"pins not applied, nothing was changed: {exc}")
        return
    console.print(f"pinned to the baseline: {', '.join(pins)} (flag-set version {flags.version})")


@validations_app.command("ls")
def validations_ls(limit: Annotated[int, typer.Option(help="How many.", min=1, max=1000)] = 20,
                   url: AdminUrl = None, token: AdminToken = None,
                   config: AdminConfig = None) -> None:
    """List validation records, newest first."""
    try:
        body = admin_client(url, token, config).validations(limit)
    except AdminApiError as exc:
        fail(str(exc))
        return
    rows = [(str(row["id"]), row["created_at"][:16].replace("T", " "), row["outcome"], row["suite"],
             row["candidate_stamp_sha256"][:12], ", ".join(row["failing"] + row["inconclusive"]) or "-")
            for row in body["validations"]]
    out = console.rich()
    out.print(fitted_table(out, "validations", (Column("id", justify="right"), Column("when"), Column("outcome"),
                                                Column("suite"), Column("candidate"),
                                                Column("not passed", wraps=True)), rows, heading_columns=3))
    if body.get("in_force"):
        console.print(f"in force for this deployment: #{body['in_force']['id']} ({body['in_force']['outcome']})")


@validations_app.command("show")
def validations_show(validation_id: int, url: AdminUrl = None, token: AdminToken = None,
                   config: AdminConfig = None) -> None:
    """Print one validation's disclosure card."""
    try:
        body = admin_client(url, token, config).validation(validation_id)
    except AdminApiError as exc:
        fail(str(exc))
        return
    from rich.text import Text

    from evals.card import sections

    summary, result = body["validation"], body["result"]
    out = console.rich()
    out.print(Text(f"Validation #{summary['id']}: {summary['outcome']}", style="bold"))
    out.print(cell_text(f"Run by {summary['actor']} at {summary['created_at']}, {summary['wall_s']:.0f} s."))
    # The card's own sections, its tables laid out for this terminal (Markdown tables cannot fold).
    for heading, paragraphs, rows in sections(summary, result):
        out.print()
        out.print(Text(heading, style="bold underline"))
        for paragraph in paragraphs:
            out.print(cell_text(paragraph.replace("**", "")))
        if rows:
            columns = [Column(name, wraps=True) for name in rows[0]]
            out.print(fitted_table(out, "", columns, rows[1:], heading_columns=min(2, len(columns) - 1)))
