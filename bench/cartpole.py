"""Row 3: environment steps and wall seconds until CartPole-v1 is solved, lessons against SB3.

"Solved" is checked on one schedule for every contender (`SolvedCheck`):
after every CHECK_EVERY environment steps (the vector environment's `step`
calls times its copies), the greedy policy plays EVAL_EPISODES episodes with
`rlhelpers.evaluation.evaluate_greedy_policy` (the grade cells' measurement)
and training stops at the first check whose mean return is >= SOLVED_RETURN.
The wall seconds count from the start of the training call to that check,
without the time of the checks themselves.

How a contender is observed while it trains:
- a lesson's training function runs as the lesson wrote it (loaded with
  bench.lessons, nothing copied); in its module the name `gym` is replaced by
  a proxy whose `make_vec` wraps the first vector environment of the run, the
  training one, to count its steps and run the due checks (a solved check
  raises `Solved`, which ends the call); its nn.Module classes are replaced by
  subclasses that note the first network built after that environment, the
  policy that is evaluated. Its arguments dataclass gets `total_steps` = the
  bench's budget and, where it has one (lesson 04's `eval_from`), its own
  early stop switched off, so that only the common schedule stops it.
- Stable-Baselines3's A2C and PPO, with rl-baselines3-zoo's CartPole-v1
  hyperparameters, run the same checks from a callback called after every
  vector step; its policy's logits are evaluated the same way.
"""

from __future__ import annotations

import dataclasses
import math
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
from torch import nn
from torch.distributions import Distribution

from bench.lessons import has_lesson, load_lesson
from bench.machine import torch_device
from bench.stats import Sample

ENV_ID = "CartPole-v1"
SOLVED_RETURN = 475.0
EVAL_EPISODES = 20
CHECK_EVERY = 2048
"""environment steps between two checks of 'solved' (the same for every contender)"""
MAX_STEPS = 150_000
"""the bench's budget for one training run; a run not solved by then counts as unsolved"""
TUNING_SEEDS = tuple(range(20))
"""the seeds the lessons' hyperparameters were tuned on (0-9; 10-19 were added on 2026-12-07 to
check the slowest seeds of lessons 04 and 06); the seed sweeps use 0-9"""
HELD_OUT_SEEDS = tuple(range(100, 110))
"""row 3's seeds: ten that no lesson was tuned on, so a speed claim holds beyond the tuning"""


class Solved(Exception):  # noqa: N818  (a signal, not an error)
    """Raised from inside a lesson's training loop at the check that found it solved."""


@dataclass
class SolvedCheck:
    """The common schedule: a greedy evaluation every `every` steps, solved at >= 475."""

    every: int = CHECK_EVERY
    threshold: float = SOLVED_RETURN
    clock: Callable[[], float] = time.perf_counter
    started: float = 0.0
    eval_seconds: float = 0.0
    next_check: int = 0
    history: list[tuple[int, float]] = field(default_factory=list)
    solved_steps: int | None = None
    solved_seconds: float | None = None

    def start(self) -> None:
        self.started = self.clock()
        self.eval_seconds = 0.0
        self.next_check = self.every
        self.history = []
        self.solved_steps = self.solved_seconds = None

    def due(self, steps: int) -> bool:
        return self.solved_steps is None and steps >= self.next_check

    def check(self, steps: int, evaluate: Callable[[], float]) -> bool:
        """Run the evaluation (its time is not training time); True when it says solved."""
        begin = self.clock()
        mean_return = evaluate()
        if mean_return >= self.threshold:
            self.solved_steps = steps
            self.solved_seconds = begin - self.started - self.eval_seconds
        self.eval_seconds += self.clock() - begin
        self.history.append((steps, mean_return))
        while self.next_check <= steps:
            self.next_check += self.every
        return self.solved_steps is not None

    def observe(self, steps: int, evaluate: Callable[[], float]) -> bool:
        """Every contender calls this after each vector step: checks when due; True once solved."""
        return self.check(steps, evaluate) if self.due(steps) else False

    def training_seconds(self) -> float:
        """Seconds since start() without the evaluations."""
        return self.clock() - self.started - self.eval_seconds

    def result(self, contender: str, seed: int) -> RunResult:
        solved = self.solved_steps is not None
        return RunResult(
            contender,
            seed,
            self.solved_steps,
            self.solved_seconds if solved else self.training_seconds(),
            len(self.history),
            max((r for _, r in self.history), default=float("nan")),
        )


@dataclass
class RunResult:
    contender: str
    seed: int
    solved_steps: int | None
    seconds: float
    """to the solving check, or the whole run when it was not solved"""
    checks: int
    best_return: float


def policy_logits(model: nn.Module, obs):
    """A lesson network's action scores: its output, a tuple's first, a distribution's logits."""
    out = model(obs)
    if isinstance(out, tuple):
        out = out[0]
    return out.logits if isinstance(out, Distribution) else out


def greedy_return(model: nn.Module, scores=policy_logits) -> float:
    from rlhelpers.evaluation import evaluate_greedy_policy

    return evaluate_greedy_policy(model, scores=scores, n_episodes=EVAL_EPISODES, env_id=ENV_ID)


# --------------------------------------------------------------------------- lessons


class _CountedVectorEnv(gym.vector.VectorWrapper):
    """A vector environment that reports its steps (calls x copies) after each call."""

    def __init__(self, env, on_steps: Callable[[int], None]):
        super().__init__(env)
        self._on_steps = on_steps

    def step(self, actions):
        result = self.env.step(actions)
        self._on_steps(self.num_envs)
        return result


class LessonProbe:
    """Watches one training call of a lesson: its steps, its policy, the common checks."""

    def __init__(self, check: SolvedCheck):
        self.check = check
        self.steps = 0
        self.training_env = None
        self.policy: nn.Module | None = None

    def on_steps(self, n: int) -> None:
        self.steps += n
        if self.policy is not None and self.check.observe(
            self.steps, lambda: greedy_return(self.policy)
        ):
            raise Solved(self.steps)

    def make_vec(self, *args, **kwargs):
        envs = gym.make_vec(*args, **kwargs)
        if self.training_env is not None:
            return envs  # a later one (an evaluation of the lesson's own) is not counted
        self.training_env = _CountedVectorEnv(envs, self.on_steps)
        return self.training_env

    def note_network(self, network: nn.Module) -> None:
        if self.training_env is not None and self.policy is None:
            self.policy = network


class _GymProxy(types.SimpleNamespace):
    """gymnasium, except `make_vec`, which the probe counts."""

    def __init__(self, probe: LessonProbe):
        super().__init__(make_vec=probe.make_vec)

    def __getattr__(self, name):
        return getattr(gym, name)


def watch(module: types.ModuleType, probe: LessonProbe) -> None:
    """Point the lesson module's `gym` and its nn.Module classes at the probe."""
    module.gym = _GymProxy(probe)
    for name, value in list(vars(module).items()):
        own = getattr(value, "__module__", None) == module.__name__
        if own and isinstance(value, type) and issubclass(value, nn.Module):
            setattr(module, name, _noting_subclass(value, probe))


def _noting_subclass(cls: type, probe: LessonProbe) -> type:
    def __init__(self, *args, **kwargs):
        cls.__init__(self, *args, **kwargs)
        probe.note_network(self)

    return type(cls.__name__, (cls,), {"__init__": __init__, "__module__": cls.__module__})


def with_budget(args, max_steps: int):
    """A copy of a lesson's arguments dataclass: `total_steps` the budget, its own stop off."""
    names = {f.name for f in dataclasses.fields(args)}
    changes = {"total_steps": max_steps} if "total_steps" in names else {}
    if "eval_from" in names:
        changes["eval_from"] = math.inf  # lesson 04's rule: evaluate once training looks good
    return dataclasses.replace(args, **changes)


def _lesson_args(module, class_name: str, max_steps: int, **fields):
    return with_budget(getattr(module, class_name)(**fields), max_steps)


def train_lesson_04(module, seed: int, max_steps: int) -> None:
    module.train_a2c(ENV_ID, seed=seed, args=_lesson_args(module, "A2CArgs", max_steps))


def train_lesson_05(module, seed: int, max_steps: int) -> None:
    module.train_a2c(_lesson_args(module, "A2CArgs", max_steps, seed=seed, lam=0.95))


def train_lesson_06(module, seed: int, max_steps: int) -> None:
    """train_ppo(env_id, seed, args) as lesson 06 defines it; its *Args dataclass, if any."""
    arg_classes = [
        value
        for name, value in vars(module).items()
        if name.endswith("Args") and dataclasses.is_dataclass(value) and "PPO" in name.upper()
    ]
    args = with_budget(arg_classes[0](), max_steps) if arg_classes else None
    module.train_ppo(env_id=ENV_ID, seed=seed, args=args)


def run_lesson(
    contender: Contender, seed: int, max_steps: int, check_every: int, device: str = "cpu"
) -> RunResult:
    with torch_device(device):  # (a lesson picks its DEVICE when it is loaded)
        module = load_lesson(contender.lesson)
    check = SolvedCheck(every=check_every)
    probe = LessonProbe(check)
    watch(module, probe)
    check.start()
    try:
        contender.train(module, seed, max_steps)
    except Solved:
        pass
    if probe.policy is None:
        raise RuntimeError(f"{contender.name}: no network was built after the training env")
    return check.result(contender.name, seed)


# --------------------------------------------------------------------------- Stable-Baselines3

# rl-baselines3-zoo, hyperparams/a2c.yml and hyperparams/ppo.yml, entries CartPole-v1
# (github.com/DLR-RM/rl-baselines3-zoo); "lin_X" is X times the progress remaining.
ZOO_HYPERPARAMS = {
    "a2c": {"n_envs": 8, "n_timesteps": 500_000, "policy": "MlpPolicy", "ent_coef": 0.0},
    "ppo": {
        "n_envs": 8,
        "n_timesteps": 100_000,
        "policy": "MlpPolicy",
        "n_steps": 32,
        "batch_size": 256,
        "gae_lambda": 0.8,
        "gamma": 0.98,
        "n_epochs": 20,
        "ent_coef": 0.0,
        "learning_rate": "lin_0.001",
        "clip_range": "lin_0.2",
    },
}


def linear_schedule(start: float) -> Callable[[float], float]:
    """The zoo's lin_X: X at the start of training, 0 at its end (SB3 passes progress left)."""

    def schedule(progress_remaining: float) -> float:
        return progress_remaining * start

    return schedule


def sb3_kwargs(algo: str) -> tuple[dict, int, int]:
    """(keyword arguments of the SB3 class, n_envs, n_timesteps) of the zoo's entry."""
    params = dict(ZOO_HYPERPARAMS[algo])
    n_envs, n_timesteps = params.pop("n_envs"), params.pop("n_timesteps")
    for key, value in params.items():
        if isinstance(value, str) and value.startswith("lin_"):
            params[key] = linear_schedule(float(value[4:]))
    return params, n_envs, n_timesteps


def sb3_logits(policy: nn.Module, obs):
    return policy.get_distribution(obs).distribution.logits


def run_sb3(
    contender: Contender, seed: int, max_steps: int, check_every: int, device: str = "cpu"
) -> RunResult:
    import stable_baselines3
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    check = SolvedCheck(every=check_every)

    class CommonSchedule(BaseCallback):
        def _on_step(self) -> bool:  # False stops the training
            return not check.observe(
                self.num_timesteps, lambda: greedy_return(self.model.policy, sb3_logits)
            )

    kwargs, n_envs, n_timesteps = sb3_kwargs(contender.lesson)
    algorithm = getattr(stable_baselines3, contender.lesson.upper())
    check.start()
    envs = make_vec_env(ENV_ID, n_envs=n_envs, seed=seed)
    model = algorithm(env=envs, seed=seed, device=device, verbose=0, **kwargs)
    # the zoo's budget (PPO's schedules run over it), cut to the bench's
    model.learn(total_timesteps=min(n_timesteps, max_steps), callback=CommonSchedule())
    envs.close()
    return check.result(contender.name, seed)


# --------------------------------------------------------------------------- the contenders


@dataclass(frozen=True)
class Contender:
    name: str
    lesson: str
    """the lesson id, or the SB3 algorithm ('a2c', 'ppo')"""
    train: Callable | None = None
    """a lesson's: train(module, seed, max_steps)"""
    baseline: str | None = None
    """the name of the SB3 contender it is compared with"""

    @property
    def is_sb3(self) -> bool:
        return self.train is None

    def available(self) -> bool:
        if self.is_sb3:
            try:
                import stable_baselines3  # noqa: F401
            except ImportError:
                return False
            return True
        return has_lesson(self.lesson)

    def why_not(self) -> str:
        if self.is_sb3:
            return "stable-baselines3 is not installed (make bench installs requirements-bench.txt)"
        return "not built yet (no solutions/" + self.lesson + "/)"


SB3_A2C = "SB3 A2C (zoo)"
SB3_PPO = "SB3 PPO (zoo)"
CONTENDERS = (
    Contender("lesson 04 A2C", "04_actor_critic", train_lesson_04, baseline=SB3_A2C),
    Contender("lesson 05 A2C + GAE", "05_td", train_lesson_05, baseline=SB3_A2C),
    Contender("lesson 06 PPO", "06_ppo_rlhf", train_lesson_06, baseline=SB3_PPO),
    Contender(SB3_A2C, "a2c"),
    Contender(SB3_PPO, "ppo"),
)


def run_one(
    contender: Contender, seed: int, max_steps: int, check_every: int, device: str = "cpu"
) -> RunResult:
    runner = run_sb3 if contender.is_sb3 else run_lesson
    return runner(contender, seed, max_steps, check_every, device)


def measure(
    seeds: list[int],
    max_steps: int = MAX_STEPS,
    check_every: int = CHECK_EVERY,
    contenders=CONTENDERS,
    device: str = "cpu",
    echo=print,
) -> dict[str, list[RunResult] | str]:
    """{contender: its runs, one per seed, or why it did not run}; seeds interleaved."""
    results: dict[str, list[RunResult] | str] = {}
    for contender in contenders:
        results[contender.name] = [] if contender.available() else contender.why_not()
    for seed in seeds:
        for contender in contenders:
            runs = results[contender.name]
            if isinstance(runs, str):
                continue
            run = run_one(contender, seed, max_steps, check_every, device)
            solved = f"solved at {run.solved_steps:,} steps" if run.solved_steps else "not solved"
            echo(f"  {contender.name} seed {seed}: {solved}, {run.seconds:.1f} s")
            runs.append(run)
    return results


def solved_median(values: list[float | None]) -> float | None:
    """The median where an unsolved run (None) ranks after every solved one; None if it is one."""
    ordered = sorted(values, key=lambda v: (v is None, v or 0.0))
    if not ordered:
        return None
    n = len(ordered)
    middle = ordered[(n - 1) // 2 : n // 2 + 1]
    if any(v is None for v in middle):
        return None
    return sum(middle) / len(middle)


def worst_steps(runs: list[RunResult]) -> float:
    """The most steps any seed needed to solve it; infinity if a seed did not solve it."""
    steps = [r.solved_steps for r in runs]
    return float("inf") if not steps or None in steps else float(max(steps))


def steps_sample(runs: list[RunResult]) -> Sample:
    return Sample([r.solved_steps for r in runs if r.solved_steps is not None])


def seconds_sample(runs: list[RunResult]) -> Sample:
    return Sample([r.seconds for r in runs if r.solved_steps is not None])
