#!/usr/bin/env python
"""Build a tiny but real Llama model offline, for tests and the demo.

No hub is reachable, so nothing is downloaded: a byte-level BPE tokenizer is
trained on Python's own standard-library sources and a small LlamaConfig gets
random weights. vLLM serves it like any other Llama checkpoint. Deterministic
for a given seed; about 9 MB; about 15 s on two cores.

Run with a Python that has torch, transformers and tokenizers (the vLLM venv):
    python make_tiny_model.py OUTPUT_DIR [--name tiny-llama] [--seed 0]
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import sys
import sysconfig

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}</s>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def training_files(limit):
    """Standard-library sources: plain text that every Python install has."""
    stdlib = sysconfig.get_paths()["stdlib"]
    files = sorted(glob.glob(os.path.join(stdlib, "*.py")))
    return files[:limit]


def build_tokenizer(vocab_size):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # pylint: disable=import-outside-toplevel
    from transformers import PreTrainedTokenizerFast  # pylint: disable=import-outside-toplevel

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<s>", "</s>", "<unk>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train(training_files(400), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(tokenizer, seed):
    import torch  # pylint: disable=import-outside-toplevel
    from transformers import LlamaConfig, LlamaForCausalLM  # pylint: disable=import-outside-toplevel

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=768,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


def manifest(out_dir):
    """sha256 of every file, so deployments can check what they stage."""
    sums = {}
    for name in sorted(os.listdir(out_dir)):
        path = os.path.join(out_dir, name)
        if os.path.isfile(path) and name != "MANIFEST.sha256.json":
            with open(path, "rb") as handle:
                sums[name] = hashlib.sha256(handle.read()).hexdigest()
    return sums


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if os.path.isfile(os.path.join(args.output_dir, "MANIFEST.sha256.json")):
        print("model already at %s" % args.output_dir)
        return 0
    tmp_dir = args.output_dir.rstrip("/") + ".tmp"
    os.makedirs(tmp_dir, exist_ok=True)
    tokenizer = build_tokenizer(args.vocab_size)
    model = build_model(tokenizer, args.seed)
    tokenizer.save_pretrained(tmp_dir)
    model.save_pretrained(tmp_dir, safe_serialization=True)
    with open(os.path.join(tmp_dir, "MANIFEST.sha256.json"), "w") as handle:
        json.dump(manifest(tmp_dir), handle, indent=1, sort_keys=True)
    for name in os.listdir(tmp_dir):
        os.chmod(os.path.join(tmp_dir, name), 0o644)
    os.chmod(tmp_dir, 0o755)
    if os.path.isdir(args.output_dir):
        os.rmdir(args.output_dir)
    os.rename(tmp_dir, args.output_dir)
    print("model written to %s" % args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
