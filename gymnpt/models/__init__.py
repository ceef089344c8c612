"""Layer 1, models: the built-in tiny model (byte tokenizer, chat template, Llama weights).

Everything here is created locally with no download, so every command runs on a fresh
CPU machine. May import: :mod:`gymnpt.core` only. Other models (SmolLM2, any Hugging Face
id) reach the kernel through the registry's model hook, never by name.
"""
