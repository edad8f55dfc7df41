"""Issue 9.18 and 9.19: ``python -m bot.bench`` counts only delivered tracks, lists failures apart with their reasons,
prints every figure beside its target, explains its empty cells and fails (exit 1) only with ``--check``.

No test here asserts how fast anything runs: speed is what the bench measures, not what the tests check."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from bot.bench import (
    EMPTY_CELLS,
    EngineRun,
    Result,
    Round,
    Target,
    build_parser,
    credits_for,
    exit_code,
    failure_lines,
    report,
    run_engine,
    scaling_table,
    target_lines,
    targets,
)


def a_round(jobs: int = 10, delivered: int = 10, failures: Counter[str] | None = None, cpu: float = 1.0) -> Round:
    return Round(
        jobs=jobs,
        delivered=delivered,
        failures=failures or Counter(),
        submits=jobs,
        polls=2,
        wall_s=1.0,
        cpu_ms_per_job=cpu,
        latencies_ms=[100.0] * delivered,
        peak_rss_mb=60.0,
    )


async def test_jobs_the_provider_refused_are_not_counted_as_done() -> None:
    # The sandbox has credits for two 10-credit songs; four jobs are asked for.
    run = EngineRun(provider_kind="producer", webhooks=True, jobs=4, guilds=2, render=0.05, scale=0.01, credits=20)
    result = await run_engine(run)
    assert (result.jobs, result.delivered, sum(result.failures.values())) == (4, 2, 2)
    [(reason, count)] = result.failures.items()
    assert count == 2 and reason.startswith("credits")
    lines = failure_lines([Result("Producer webhooks", [result])])
    assert lines[0] == "not delivered in Producer webhooks: 2 of 4" and lines[1].strip().startswith("2 × credits")


def test_the_bench_sandbox_has_credits_for_every_job_of_the_run() -> None:
    assert credits_for(2000) >= 2000 * 10  # a create costs 10 credits in the sandbox
    assert build_parser().parse_args([]).sandbox_credits is None  # default: credits_for(jobs)


def test_failed_jobs_are_printed_apart_and_not_as_delivered() -> None:
    result = Result("FUZZ polling", [a_round(jobs=2000, delivered=1000, failures=Counter({"credits: out": 1000}))])
    lines = report([result], None)
    row = next(line for line in lines if line.startswith("FUZZ polling"))
    assert " 2000 " in row and " 1000 " in row
    assert "not delivered in FUZZ polling: 1000 of 2000" in lines
    found = targets([result], None)
    assert Target("FUZZ polling: delivered", "1000/2000", "every job", False) in found


def test_cpu_per_job_is_the_median_of_the_rounds() -> None:
    # One round slowed down by another process barely moves the figure.
    result = Result("FUZZ polling", [a_round(cpu=1.0), a_round(cpu=1.1), a_round(cpu=9.0)])
    assert result.cpu_ms_per_job == 1.1
    assert "1.10 (1.00–9.00)" in "\n".join(report([result], None))


def test_empty_cells_are_explained() -> None:
    engine = Result("FUZZ polling", [a_round()], polling=True)
    baseline = Result("naive baseline", [a_round(cpu=math.nan)], engine=False, polling=True)
    baseline.rounds[0].latencies_ms.clear()
    lines = report([engine], baseline)
    assert "nan" not in "\n".join(lines)
    row = next(line for line in lines if line.startswith("naive baseline"))
    assert "—" in row and EMPTY_CELLS in lines


def test_every_figure_is_printed_beside_its_target() -> None:
    result = Result("FUZZ polling", [a_round(cpu=5.0)], polling=True)
    baseline = Result("naive baseline", [a_round(cpu=math.nan)], engine=False, polling=True)
    text = "\n".join(target_lines(targets([result], baseline)))
    assert "FUZZ polling: engine CPU per job" in text and "5.00 ms" in text and "target: under 2 ms" in text
    assert "completion → post p50" in text and "status polls vs the baseline's" in text
    assert "MISSED" in text and "FAIL" not in text


def test_a_missed_target_is_an_error_only_with_check() -> None:
    missed = [Target("CPU", "5 ms", "under 2 ms", False), Target("p50", "—", "under 2 s", None)]
    assert exit_code(missed, check=False) == 0
    assert exit_code(missed, check=True) == 1
    assert exit_code([Target("CPU", "1 ms", "under 2 ms", True)], check=True) == 0
    assert build_parser().parse_args(["--check"]).check


def test_several_sizes_are_compared_side_by_side() -> None:
    args = build_parser().parse_args(["--jobs", "250,1000,2000"])
    assert args.jobs == [250, 1000, 2000]
    by_size = [(n, [Result("FUZZ polling", [a_round(jobs=n, delivered=n)])]) for n in args.jobs]
    table = scaling_table(by_size)
    assert [line.split()[-5] for line in table[3:]] == ["250", "1000", "2000"]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--jobs", "250,lots"])


def test_polls_are_compared_with_the_baseline_per_job() -> None:
    # Three rounds of a mode against one round of the baseline: the same polls a job is a ratio of 1.
    from bot.bench import poll_ratio

    engine = Result("FUZZ polling", [a_round(), a_round(), a_round()], polling=True)
    baseline = Result("naive baseline", [a_round(cpu=math.nan)], engine=False, polling=True)
    assert poll_ratio(engine, baseline) == 1.0
