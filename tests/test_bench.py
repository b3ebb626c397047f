"""The bench's own logic (make bench): its table, statistics, schedule and loaders.

Fast tests only; no test here measures or asserts a time.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.distributions import Categorical

from bench import cartpole, lessons, results, suite, testbed
from bench.stats import Sample, fmt_sample, paired_ratios

# --------------------------------------------------------------------------- statistics


def test_sample_median_and_spread():
    sample = Sample([3.0, 1.0, 10.0])
    assert (sample.median, sample.low, sample.high) == (3.0, 1.0, 10.0)
    assert Sample([1.0, 2.0, 3.0, 10.0]).median == 2.5


def test_fmt_sample_shows_the_spread_and_the_repeats():
    assert fmt_sample(Sample([2.0, 1.0, 4.0]), "s") == "2.0 s (1.0-4.0, n=3)"
    assert fmt_sample(Sample([1500.0]), "steps") == "1,500 steps (n=1)"
    assert fmt_sample(Sample()) == "not measured"


def test_paired_ratios_are_per_repeat():
    assert paired_ratios([4.0, 9.0], [2.0, 3.0]).values == [2.0, 3.0]
    with pytest.raises(ValueError, match="numerators"):
        paired_ratios([1.0], [1.0, 2.0])


def test_solved_median_ranks_unsolved_runs_last():
    assert cartpole.solved_median([3000, None, 1000]) == 3000
    assert cartpole.solved_median([None, None, 1000]) is None
    assert cartpole.solved_median([1000, 2000]) == 1500
    assert cartpole.solved_median([]) is None


# --------------------------------------------------------------------------- the table


def test_table_has_a_header_and_one_line_per_row():
    lines = [results.Line("1", "a|b", "1.0 s", "budget 60 s", "ok"), results.Line("2", "c", "x")]
    text = results.table(lines)
    rows = text.splitlines()
    assert len(rows) == 4
    assert rows[0].startswith("| row | what |")
    assert "a\\|b" in rows[2]  # a pipe in a cell does not open a new column
    assert rows[3].count(" | ") == len(results.COLUMNS) - 1


def test_table_refuses_a_line_of_the_wrong_width():
    with pytest.raises(ValueError, match="columns"):
        results.table([results.Line("1", "a", "b")], columns=("row", "what"))


def test_render_lists_the_machine_the_figures_and_the_goals():
    text = results.render(
        {"cpu": "Some CPU", "load average at start": "5.00"},
        [results.Line("2", "testbed", "1.0 s")],
        [results.Goal("The testbed 50 times faster", "met", "x80")],
        ["a note"],
    )
    assert "- cpu: Some CPU" in text
    assert "| 2 | testbed | 1.0 s |  |  |" in text
    assert "- **met**: The testbed 50 times faster. x80" in text
    assert "## Notes" in text and "- a note" in text


# --------------------------------------------------------------------------- the schedule


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def check_points(step_size: int, every: int, steps: int) -> list[int]:
    """The step counts at which SolvedCheck evaluates, for a contender stepping step_size."""
    check = cartpole.SolvedCheck(every=every, threshold=math.inf)
    check.start()
    for count in range(step_size, steps + 1, step_size):
        check.observe(count, lambda: 0.0)
    return [at for at, _ in check.history]


@pytest.mark.parametrize("step_size", [8, 16, 40, 256])  # lesson 04, 05, SB3 A2C, a PPO rollout
def test_every_contender_is_checked_once_per_interval_at_the_first_step_past_it(step_size):
    points = check_points(step_size, every=2048, steps=20_000)
    assert len(points) == 20_000 // 2048
    for number, at in enumerate(points, 1):
        assert number * 2048 <= at < number * 2048 + step_size


def test_the_checks_do_not_count_as_training_time():
    clock = FakeClock()
    check = cartpole.SolvedCheck(every=100, threshold=475.0, clock=clock)
    check.start()

    def slow_evaluation(result):
        def evaluate():
            clock.now += 5.0  # the evaluation takes 5 s
            return result

        return evaluate

    clock.now = 10.0
    assert not check.observe(100, slow_evaluation(100.0))
    clock.now = 30.0  # 15 s of training since the first check ended
    assert check.observe(200, slow_evaluation(480.0))
    assert check.solved_steps == 200
    assert check.solved_seconds == pytest.approx(25.0)  # 30 s, less the first check's 5 s
    result = check.result("x", seed=0)
    assert (result.solved_steps, result.checks, result.best_return) == (200, 2, 480.0)
    assert not check.due(10_000)  # a solved run is not checked again


def test_lesson_probe_counts_the_training_env_and_stops_at_the_solving_check(monkeypatch):
    evaluated = []

    def fake_return(model, scores=None):
        evaluated.append(model)
        return 500.0 if len(evaluated) == 2 else 0.0

    monkeypatch.setattr(cartpole, "greedy_return", fake_return)
    check = cartpole.SolvedCheck(every=64)
    check.start()
    probe = cartpole.LessonProbe(check)
    envs = probe.make_vec("CartPole-v1", num_envs=8, vectorization_mode="vector_entry_point")
    later = probe.make_vec("CartPole-v1", num_envs=2, vectorization_mode="vector_entry_point")
    network = torch.nn.Linear(4, 2)
    probe.note_network(network)
    probe.note_network(torch.nn.Linear(4, 2))  # only the first network after the env is the policy
    envs.reset(seed=0)
    later.reset(seed=0)
    later.step(np.zeros(2, dtype=np.int64))  # another env's steps are not counted
    with pytest.raises(cartpole.Solved):
        for _ in range(100):
            envs.step(np.zeros(8, dtype=np.int64))
    assert check.solved_steps == 128 and probe.steps == 128
    assert evaluated == [network, network]
    envs.close()
    later.close()


def test_watch_swaps_gym_and_notes_the_lessons_networks():
    module = types.ModuleType("bench_lesson_fake")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 2)

    Net.__module__ = module.__name__
    module.Net = Net
    module.Linear = torch.nn.Linear  # not the lesson's own class: left alone
    probe = cartpole.LessonProbe(cartpole.SolvedCheck())
    cartpole.watch(module, probe)
    assert module.gym.spaces is cartpole.gym.spaces
    assert module.Linear is torch.nn.Linear
    module.Net()  # before the training env: not the policy
    assert probe.policy is None
    module.gym.make_vec("CartPole-v1", num_envs=1, vectorization_mode="vector_entry_point").close()
    net = module.Net()
    assert probe.policy is net and isinstance(net, Net)


def test_with_budget_sets_the_budget_and_turns_the_lessons_own_stop_off():
    @dataclasses.dataclass
    class A2CArgs:
        total_steps: int = 100
        eval_from: float = 300.0
        lr: float = 0.1

    @dataclasses.dataclass
    class OtherArgs:
        lr: float = 0.1

    changed = cartpole.with_budget(A2CArgs(), 5000)
    assert (changed.total_steps, changed.eval_from, changed.lr) == (5000, math.inf, 0.1)
    assert cartpole.with_budget(OtherArgs(), 5000) == OtherArgs()


def test_policy_logits_reads_the_lessons_outputs():
    logits = torch.tensor([[1.0, 2.0]])
    assert torch.equal(cartpole.policy_logits(lambda obs: logits, None), logits)
    as_pair = cartpole.policy_logits(lambda obs: (Categorical(logits=logits), None), None)
    assert torch.allclose(torch.softmax(as_pair, -1), torch.softmax(logits, -1))


def test_zoo_hyperparameters_become_sb3_arguments():
    kwargs, n_envs, n_timesteps = cartpole.sb3_kwargs("ppo")
    assert (n_envs, n_timesteps) == (8, 100_000)
    assert kwargs["learning_rate"](1.0) == pytest.approx(0.001)
    assert kwargs["learning_rate"](0.5) == pytest.approx(0.0005)
    assert kwargs["clip_range"](0.25) == pytest.approx(0.05)
    assert "n_envs" not in kwargs and kwargs["n_epochs"] == 20


def test_every_lesson_contender_has_an_sb3_baseline_and_06_is_optional():
    names = {c.name for c in cartpole.CONTENDERS}
    for contender in cartpole.CONTENDERS:
        if not contender.is_sb3:
            assert contender.baseline in names
    ppo = next(c for c in cartpole.CONTENDERS if c.lesson == "06_ppo_rlhf")
    assert ppo.available() == lessons.has_lesson("06_ppo_rlhf")
    if not ppo.available():
        assert "not built yet" in ppo.why_not()


# --------------------------------------------------------------------------- lesson loading


def cell_header(**nbgrader) -> str:
    fields = {"locked": False, "schema_version": 3, "task": False, **nbgrader}
    return "# %% nbgrader=" + json.dumps(fields)


LESSON_TEMPLATE = """\
# %%
import math

DEVICE = "cpu"
print("torch device:", DEVICE)

{answer_header}
def double(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION


# %%
demo = double(21)
raise RuntimeError("a demo cell must not run")

# %%
from dataclasses import dataclass


@dataclass
class Args:
    steps: int = 3


TABLE = {double: math.pi}
results = [double(i) for i in range(3)]

{grade_header}
assert double(2) == 5, "a grade cell must not run"
"""
LESSON_SOURCE = LESSON_TEMPLATE.replace(
    "{answer_header}", cell_header(grade=False, grade_id="double", solution=True)
).replace(
    "{grade_header}",
    cell_header(grade=True, grade_id="test_double", locked=True, points=1, solution=False),
)


@pytest.fixture
def fake_course(tmp_path):
    source = tmp_path / "solutions" / "09_fake" / "09_fake.py"
    source.parent.mkdir(parents=True)
    source.write_text(LESSON_SOURCE)
    return tmp_path


def test_definitions_keep_imports_defs_classes_and_constants_only(fake_course):
    code = lessons.definitions(fake_course / "solutions" / "09_fake" / "09_fake.py")
    assert "def double" in code and "@dataclass" in code and "TABLE = " in code
    assert 'DEVICE = "cpu"' in code and "import math" in code
    for left_out in ("print(", "demo = ", "raise RuntimeError", "results = ", "assert double"):
        assert left_out not in code


def test_load_lesson_gives_a_module_of_the_lessons_definitions(fake_course):
    module = lessons.load_lesson("09_fake", root=fake_course)
    assert module.double(4) == 8
    assert module.Args().steps == 3
    assert not hasattr(module, "demo")


def test_the_real_lessons_load_without_their_demos():
    module = lessons.load_lesson("01_bandits")
    assert callable(module.run_testbed) and callable(module.epsilon_greedy)
    assert not hasattr(module, "testbed_results")  # a demo cell's variable


# --------------------------------------------------------------------------- the testbed


def test_per_run_loop_is_a_testbed_of_the_right_shape():
    reward, optimal = testbed.per_run_testbed(1.0, runs=200, steps=30, k=10, seed=1)
    assert reward.shape == optimal.shape == (30,)
    assert 0.05 < optimal.mean() < 0.15  # uniformly random arms: one in ten is the best
    greedy_reward, _ = testbed.per_run_testbed(0.1, runs=200, steps=300, k=10, seed=1)
    assert greedy_reward[-50:].mean() > reward.mean() + 0.5  # learning pays


def test_per_run_loop_is_reproducible():
    first = testbed.per_run_testbed(0.1, runs=5, steps=20, seed=3)
    second = testbed.per_run_testbed(0.1, runs=5, steps=20, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


# --------------------------------------------------------------------------- suite phases


def test_whole_suite_and_partial_runs_are_told_apart():
    assert suite.is_whole_suite({"args": ["-n", "2", "--nbval-lax", "tests", "solutions"]})
    assert not suite.is_whole_suite({"args": ["-q", "tests/test_bench.py"]})
    assert not suite.is_whole_suite({"args": ["tests", "solutions", "-k", "bench"]})


def test_phase_rows_report_each_phase_and_the_run():
    record = {
        "finished": "2026-12-02 03:00:00 UTC",
        "args": ["tests", "solutions"],
        "exit_status": 0,
        "phases": {"unit": {"tests": 5, "test_seconds": 12.4, "wall_seconds": 7.6}},
    }
    rows = suite.phase_rows(record)
    assert rows[0][0] == "make test phase `unit`"
    assert rows[0][1].startswith("8 s wall (5 tests")
    assert "the whole suite" in rows[0][2]
    assert suite.phase_rows(None)[0][1] == "not measured"


def _suite_conftest():
    """tests/conftest.py itself (a plain `import conftest` may find tests/browser/'s)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "suite_conftest", Path(__file__).with_name("conftest.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_suite_writes_its_phases_where_the_bench_reads_them(tmp_path):
    conftest = _suite_conftest()

    assert conftest.PHASES_FILE == suite.PHASES_FILE
    config = types.SimpleNamespace(
        invocation_params=types.SimpleNamespace(args=("tests", "solutions")),
        option=types.SimpleNamespace(numprocesses=2),
        _rlcourse_exit_status=0,
    )
    target = tmp_path / "build" / "phases.json"
    phases = {"unit": {"tests": 1, "test_seconds": 1.0, "wall_seconds": 1.0}}
    conftest.write_phases(phases, config, target)
    record = suite.load_phases(target)
    assert record["phases"] == phases and suite.is_whole_suite(record)
    assert suite.load_phases(tmp_path / "missing.json") is None


# --------------------------------------------------------------------------- row 1's verdicts


def test_the_cpu_probe_cell_is_read_back():
    import nbformat

    from bench import notebooks

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(notebooks.CPU_PROBE)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="warming up\n12.5\n")]
    notebook.cells.append(cell)
    assert notebooks.kernel_cpu_seconds(notebook) == 12.5
    assert notebooks.lesson_budget("06_ppo_rlhf") == 90 and notebooks.lesson_budget("01_x") == 60
    assert notebooks.lesson_budget("07_rlhf") == 90


def test_row_9_probe_reads_the_lessons_runs_and_judges_each_against_its_budget():
    """The probe prints each run's (CPU, wall) seconds by the lesson's names; a run over its
    budget is 'over' and misses the goal."""
    import contextlib
    import io

    from bench import rlhf_runs
    from grader.course import REPO, source_path

    source = source_path(REPO, rlhf_runs.LESSON).read_text()
    for name in rlhf_runs.RUNS.values():
        assert f"\n{name} = " in source, f"lesson 07 no longer defines {name}"
    fake = types.SimpleNamespace
    namespace = {name: fake(cpu_seconds=4.0, wall_seconds=9.0) for name in rlhf_runs.RUNS.values()}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(rlhf_runs.PROBE, namespace)
    measured = {k: tuple(v) for k, v in json.loads(printed.getvalue()).items()}
    assert measured == {"PPO": (4.0, 9.0), "DPO": (4.0, 9.0), "GRPO": (4.0, 9.0)}
    lines, goal = rlhf_runs.rlhf_run_lines(measured | {"GRPO": (16.0, 20.0)})
    assert [line.verdict for line in lines] == ["ok", "ok", "over"]
    assert goal.status == "missed" and "16.0" in goal.why


def test_budget_verdict_says_by_how_much_and_what_the_cpu_says():
    from bench.run import budget_verdict

    assert budget_verdict(Sample([50.0]), Sample([40.0]), 60.0) == "ok"
    assert (
        budget_verdict(Sample([90.0]), Sample([40.0]), 60.0)
        == "OVER by 30 s wall; CPU 40 s: within"
    )
    assert budget_verdict(Sample([90.0]), Sample([70.0]), 60.0).endswith("CPU 70 s: over")


def test_the_numpy_scalar_loop_is_the_same_experiment():
    reward, optimal = testbed.per_run_testbed_numpy(1.0, runs=100, steps=20, k=10, seed=1)
    assert reward.shape == optimal.shape == (20,)
    assert 0.03 < optimal.mean() < 0.17


# --------------------------------------------------------------------------- row 3's verdicts


def runs_of(name, steps, seconds):
    return [
        cartpole.RunResult(name, seed, s, t, checks=1, best_return=500.0)
        for seed, (s, t) in enumerate(zip(steps, seconds, strict=True))
    ]


def test_cartpole_goal_needs_fewer_steps_and_fewer_seconds():
    from bench.run import cartpole_goal

    sb3 = runs_of("sb3", [4096, 8192, 6144], [20.0, 30.0, 25.0])
    faster = runs_of("lesson", [2048, 4096, 4096], [5.0, 6.0, 7.0])
    more_steps = runs_of("lesson", [10240, 12288, 8192], [5.0, 6.0, 7.0])
    goal = cartpole_goal({"lesson": faster, "sb3": sb3}, "lesson", "sb3", "PPO")
    assert goal.status == "met" and "steps x0.67" in goal.why
    one_slow_seed = runs_of("lesson", [2048, 4096, 20480], [5.0, 6.0, 7.0])
    goal = cartpole_goal({"lesson": one_slow_seed, "sb3": sb3}, "lesson", "sb3", "PPO")
    assert goal.status == "missed" and "worst seed 20,480 steps against SB3's 8,192" in goal.why
    goal = cartpole_goal({"lesson": more_steps, "sb3": sb3}, "lesson", "sb3", "A2C")
    assert goal.status == "missed" and "steps x1.67" in goal.why and "Why:" in goal.why
    absent = cartpole_goal({"lesson": "not built yet", "sb3": sb3}, "lesson", "sb3", "PPO")
    assert absent.status == "not measured" and "not built yet" in absent.why


def test_an_unsolved_lesson_misses_and_an_unsolved_baseline_does_not_hide_it():
    from bench.run import cartpole_goal

    solved = runs_of("x", [4096, 4096, 4096], [5.0, 5.0, 5.0])
    unsolved = [dataclasses.replace(r, solved_steps=None) for r in solved]
    goal = cartpole_goal({"lesson": unsolved, "sb3": solved}, "lesson", "sb3", "PPO")
    assert goal.status == "missed"
    goal = cartpole_goal({"lesson": solved, "sb3": unsolved}, "lesson", "sb3", "PPO")
    assert goal.status == "met" and "did not solve" in goal.why


# --------------------------------------------------------------------------- recovery


def test_recover_reads_a_runs_output_and_its_results_back():
    from bench import recover

    log = "\n".join(
        [
            "  preflight 01_bandits: 79.1 s",
            "  repeat 1: 01_bandits 74.2 s (18.5 s CPU), autograded 104.4 s",
            "  repeat 2: 01_bandits 70.0 s (18.0 s CPU), autograded 100.0 s",
            "some other line",
        ]
    )
    times = recover.parse_log(log)
    assert times["preflight"] == {"01_bandits": 79.1}
    assert times["plain"]["01_bandits"].values == [74.2, 70.0]
    assert times["cpu"]["01_bandits"].values == [18.5, 18.0]
    assert times["graded"]["01_bandits"].values == [104.4, 100.0]
    written = results.render(
        {"cpu": "Some CPU"},
        [results.Line("2", "a|b", "1.0 s", "c", "ok")],
        [results.Goal("The testbed", "missed", "x11. Why: slow")],
        ["a note", "This run is IN PROGRESS: so far 3 min"],
    )
    machine, lines, goals, notes = recover.parse_results(written)
    assert machine == {"cpu": "Some CPU"}
    assert lines == [results.Line("2", "a|b", "1.0 s", "c", "ok")]
    assert goals == [results.Goal("The testbed", "missed", "x11. Why: slow")]
    assert notes == ["a note"]


def test_a_high_load_is_said():
    busy = {"load average at start": "6.97 / 7.04 / 6.75 (1 / 5 / 15 min)", "cores": "2 usable"}
    assert "load average was high: 7.0" in results.render(busy, [], [], [])
    idle = {"load average at start": "0.50 / 0.40 / 0.30", "cores": "2 usable"}
    assert "load average was high" not in results.render(idle, [], [], [])


# --------------------------------------------------------------------------- throughput


def test_throughput_rows_give_each_modes_speedup_and_the_class_projection(monkeypatch):
    from bench import grading

    def fake_bench(lessons, copies, modes, echo):
        assert lessons == [grading.THROUGHPUT_LESSON] and copies == grading.THROUGHPUT_COPIES
        walls = {"serial": 100.0, "workers=2": 50.0, "celery=2": 40.0}
        return [
            grading.BenchRow(m, copies, walls[m], walls[m] / copies, m != "celery=2", 7.0, 1.0)
            for m in modes
        ]

    monkeypatch.setattr(grading, "bench", fake_bench)
    monkeypatch.setattr(
        grading, "throughput_modes", lambda: (["serial", "workers=2", "celery=2"], "")
    )
    rows = grading.parallel_throughput_rows(class_serial_s=360.0, echo=lambda *a: None)
    assert [row[0].split(":")[0] for row in rows] == [
        "throughput, serial",
        "throughput, workers=2",
        "throughput, celery=2",
    ]
    assert rows[1][3].startswith("x2.00 the serial rate")
    assert "30.0 h (projected)" in rows[0][3]  # 300 students x 360 s, serially
    assert "15.0 h (projected)" in rows[1][3]
    assert "DIFFERENT" in rows[2][1] and "the same as" in rows[1][1]
    assert "7 CPU s outside the kernels" in rows[1][1]


def test_throughput_rows_say_why_celery_is_missing(monkeypatch):
    from bench import grading

    monkeypatch.setattr(
        grading,
        "bench",
        lambda lessons, copies, modes, echo: [
            grading.BenchRow(m, copies, 10.0, 2.5, True) for m in modes
        ],
    )
    monkeypatch.setattr(
        grading, "throughput_modes", lambda: (["serial", "workers=2"], "Celery not measured: x")
    )
    rows = grading.parallel_throughput_rows(echo=lambda *a: None)
    assert len(rows) == 3 and rows[-1][3] == "Celery not measured: x"
    assert "projected" not in rows[0][3]


def test_row_3_uses_seeds_the_lessons_were_not_tuned_on():
    from bench.run import parse_args

    seeds = parse_args([]).seeds
    assert len(seeds) >= 10 and not set(seeds) & set(cartpole.TUNING_SEEDS)
    assert not set(parse_args(["--quick"]).seeds) & set(cartpole.TUNING_SEEDS)
