"""Answer synthesis by evidence-constrained decoding.

Gemma 3 270M is a small base model: asked freely, it pads answers into
sentences and fills gaps from memory. Here it reads a few-shot prompt and may
only write what the evidence says, word for word: at every step the tokens
that would leave every evidence span are masked out (a llama-cpp-python
logits processor), so the answer is an exact span of the documents by
construction and its citation is exact too. The model still chooses *which*
span, and when to stop, by its own likelihood.

While decoding we also keep the model's unconstrained view: how much of its
probability the evidence could take at the first step, and the log-likelihood
of each chosen token. Those say how much the model itself believes the span,
and feed the decision to abstain.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .llm import CONTEXT_TOKENS, MAX_PIECE_BYTES, Gemma, Vocabulary, common_prefix, get_gemma

PROMPT_FILE = Path(__file__).with_name("prompts") / "extractive.txt"
# A question that asks nothing, for the likelihood a span has whatever is asked.
NULL_QUESTION = "What is the answer?"


@lru_cache(maxsize=1)
def few_shot_prefix() -> str:
    return PROMPT_FILE.read_text(encoding="utf-8")


def build_prompt(context: str, question: str, previous: tuple[str, str] | None = None) -> str:
    """The shared few-shot prefix (its KV cache is reused) then this question's part."""
    lines = [few_shot_prefix().rstrip("\n"), "", f"Context: {context}"]
    if previous is not None:
        lines.append(f"Previous question: {previous[0]}")
        lines.append(f"Previous answer: {previous[1]}")
    lines.append(f"Question: {question}")
    lines.append("Answer:")
    return "\n".join(lines)


def vocabulary() -> Vocabulary:
    """The shared model's vocabulary (loads the model on first use)."""
    return get_gemma().vocabulary


@dataclass
class Generation:
    text: str
    byte_start: int  # where the answer starts in the evidence bytes (-1: no answer)
    first_step_mass: float = 0.0  # unconstrained probability of starting inside the evidence
    logprobs: list[float] = field(default_factory=list)  # unconstrained, per chosen token
    stop_logprob: float = -math.inf  # unconstrained, of ending the answer where it ends
    considered: list[Generation] = field(default_factory=list)  # greedy first, then alternatives
    tokens: list[int] = field(default_factory=list)  # the answer's token ids
    # The same tokens' log-likelihoods after a question that asks nothing (see
    # score_without_question): the first few, and the end if all were read.
    null_logprobs: list[float] = field(default_factory=list)
    null_stop_logprob: float = -math.inf

    @property
    def mean_logprob(self) -> float:
        return sum(self.logprobs) / len(self.logprobs) if self.logprobs else -math.inf

    @property
    def question_gain(self) -> float | None:
        """How much likelier the question made this span than the null question did.

        Over the tokens read after the null question (the first few), and the
        span's end too when every token was read; None when none was.
        """
        read = min(len(self.null_logprobs), len(self.logprobs))
        if not read or self.byte_start < 0:
            return None
        gain = sum(self.logprobs[:read]) - sum(self.null_logprobs[:read])
        if read == len(self.tokens) and math.isfinite(self.null_stop_logprob):
            gain += self.stop_logprob - self.null_stop_logprob
        return gain

    @property
    def total_logprob(self) -> float:
        """The model's log-likelihood of this whole span, its end included."""
        if not self.logprobs or self.byte_start < 0:
            return -math.inf
        return sum(self.logprobs) + self.stop_logprob


class _Opening(NamedTuple):
    """Step 0 as the constraint saw it, to continue from another opening token."""

    mass: float  # probability of opening inside the evidence (a lone space counted in full)
    p_space: float
    mass_without_space: float
    logp: np.ndarray  # unconstrained log-probabilities
    scores: np.ndarray  # constrained scores: which openings exist and how likely


class _SpanConstraint:
    """The logits processor: allow only tokens that extend a span of the evidence."""

    def __init__(
        self,
        evidence: bytes,
        vocab: Vocabulary,
        prompt_len: int,
    ) -> None:
        self.evidence = evidence
        self.vocab = vocab
        self.prompt_len = prompt_len
        # An answer begins at a word, never inside one.
        self.word_starts = [m.start() for m in _WORD_START.finditer(evidence)]
        self.first_step_mass = 0.0
        self._p_space = 0.0
        self._mass_without_space = 0.0
        self.logprobs: list[float] = []
        self._prev_logp: np.ndarray | None = None
        self.starts: list[int] = []
        self.opening: _Opening | None = None

    def matches(self, generated: bytes) -> list[int]:
        text = generated.lstrip(b" ")
        if not text:
            return list(self.word_starts)
        return [p for p in self.word_starts if self.evidence.startswith(text, p)]

    def at_boundary(self, end: int) -> bool:
        """May an answer stop here? Not inside a word, number or compound ("45|.1")."""
        e = self.evidence
        if end >= len(e):
            return True
        c = e[end : end + 1]
        if _is_word_byte(c):
            return False
        return not (c in b"-./,:" and _is_word_byte(e[end + 1 : end + 2]))

    def _track_opening_mass(self, generated: bytes, ids: np.ndarray, logp: np.ndarray) -> None:
        """P(the answer opens inside the evidence), through a lone opening space if any."""
        space_ids = self.vocab.by_piece.get(b" ", [])
        probs = np.exp(logp[ids])
        if not generated:
            p_space = float(np.exp(logp[space_ids]).sum()) if space_ids else 0.0
            self._p_space = p_space
            # Until we know what follows a space, count it fully (an upper bound).
            self.first_step_mass = float(probs.sum())
            self._mass_without_space = self.first_step_mass - p_space
        else:
            self.first_step_mass = self._mass_without_space + self._p_space * float(probs.sum())

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        generated_ids = [int(t) for t in input_ids[self.prompt_len :]]
        logp = scores - _logsumexp(scores)
        if self._prev_logp is not None and generated_ids:
            self.logprobs.append(float(self._prev_logp[generated_ids[-1]]))
        generated = b"".join(self.vocab.pieces[t] for t in generated_ids)
        starts = self.matches(generated)
        stripped = len(generated.lstrip(b" "))
        allowed: set[int] = set()
        opening = not generated.strip()
        for p in starts:
            q = p + stripped
            tail = self.evidence[q : q + MAX_PIECE_BYTES]
            cut = tail.find(b"\n")
            if cut >= 0:
                tail = tail[:cut]  # a span never crosses into another passage
            here: set[int] = set()
            for n in range(1, len(tail) + 1):
                here.update(self.vocab.by_piece.get(tail[:n], ()))
                if not generated:
                    here.update(self.vocab.by_piece.get(b" " + tail[:n], ()))
            allowed |= here
        if not generated:
            # Gemma spells " 33" as " ", "3", "3": a lone space may open the answer.
            space_ids = self.vocab.by_piece.get(b" ", ())
            allowed.update(space_ids)
        elif not opening:
            ends = [p for p in starts if self.at_boundary(p + stripped)]
            if ends:
                allowed.update(self.vocab.stop_ids)
        self.starts = starts
        mask = np.full(scores.shape, -np.inf, dtype=scores.dtype)
        if allowed:
            ids = np.fromiter(allowed, dtype=np.int64)
            mask[ids] = 0.0
            if opening:
                self._track_opening_mass(generated, ids, logp)
        else:
            mask[self.vocab.stop_ids] = 0.0
        self._prev_logp = logp
        if not generated_ids:
            self.opening = _Opening(
                self.first_step_mass, self._p_space, self._mass_without_space, logp, scores + mask
            )
        return scores + mask

    def restart_after(self, first: _SpanConstraint) -> None:
        """Take ``first``'s view of step 0, to continue from another opening token."""
        assert first.opening is not None
        self.first_step_mass = first.opening.mass
        self._p_space = first.opening.p_space
        self._mass_without_space = first.opening.mass_without_space
        self._prev_logp = first.opening.logp

    def stop_logprob(self) -> float:
        """Unconstrained log-probability of stopping at the last step."""
        if self._prev_logp is None:
            return -math.inf
        return _logsumexp(self._prev_logp[self.vocab.stop_ids])


_WORD_START = re.compile(rb"(?:(?<=[\s(\[\"'])|^)([^\s(\[\"'][^\s]*)", re.MULTILINE)


def _is_word_byte(b: bytes) -> bool:
    return bool(b) and (b.isalnum() or b[0] >= 0x80)


def _logsumexp(x: np.ndarray) -> float:
    m = float(np.max(x))
    return m + math.log(float(np.exp(x - m).sum()))


def generate_span(
    prompt: str,
    evidence: str,
    *,
    max_tokens: int = 32,
    on_text: Callable[[str], None] | None = None,
    alternatives: int = 0,
    min_first_step_mass: float = 0.0,
) -> Generation:
    """Decode greedily under the span constraint; ``on_text`` receives pieces as they come."""
    gemma = get_gemma()
    vocab = gemma.vocabulary
    evidence_bytes = evidence.encode("utf-8")
    with gemma.lock:
        prompt_ids = gemma.tokenize(prompt)
        if len(prompt_ids) + max_tokens >= CONTEXT_TOKENS:
            raise ValueError("prompt too long for the model's context")
        gemma.start_from_prefix(prompt_ids, _prefix_tokens(gemma))
        constraint = _SpanConstraint(evidence_bytes, vocab, len(prompt_ids))
        out: list[int] = []
        for count, token in enumerate(gemma.generate(prompt_ids, constraint), 1):
            if token in vocab.stop_ids:
                break
            out.append(token)
            if on_text is not None:
                on_text(vocab.pieces[token].decode("utf-8", errors="ignore"))
            if count >= max_tokens:
                break
        best = _generation(out, constraint)
        considered = [best]
        # Every span's opening mass is at most the first step's (which counts a
        # lone opening space in full): below the bar every one of them would be
        # abstained on, so no alternative is worth decoding.
        opening = constraint.opening
        if alternatives and opening is not None and out and opening.mass >= min_first_step_mass:
            # Greedy decoding commits to a span with its first token. The next
            # best openings are continued too, from the cached prompt (a few
            # decode steps each), for the caller to compare whole spans.
            first = opening.scores
            stops = set(vocab.stop_ids)
            for token in np.argsort(-first)[: alternatives + 1]:
                token = int(token)
                if token == out[0] or token in stops or not np.isfinite(first[token]):
                    continue
                c = _SpanConstraint(evidence_bytes, vocab, len(prompt_ids))
                c.restart_after(constraint)
                ids = _continue(gemma, prompt_ids, token, c, max_tokens, stops)
                considered.append(_generation(ids, c))
        best.considered = considered
    return best


def score_without_question(null_prompt: str, spans: Sequence[Generation], limit: int = 8) -> None:
    """Read each span's first ``limit`` tokens after a question that asks nothing.

    A small model likes some spans whatever is asked (a sentence's subject, a
    name it has seen often). How much more likely the question made a span
    than a content-free one did (pointwise mutual information, as in Holtzman
    et al. 2021, "Surface Form Competition") is the part of the likelihood the
    question is responsible for (``Generation.question_gain``). The null prompt
    shares its context with the prompt the spans were decoded from, so right
    after decoding only its question line and each span's tokens are read, one
    batch per span. Every token read costs the model's whole output layer
    (262k words), so long spans are read only as far as ``limit``: a
    whole-sentence span is judged by its opening, where it parts from others.
    """
    gemma = get_gemma()
    vocab = gemma.vocabulary
    with gemma.lock:
        null_ids = gemma.tokenize(null_prompt)
        if len(null_ids) + limit >= CONTEXT_TOKENS:
            return
        # Keep whatever the cache holds of this prompt (the decoding just done
        # left the context there, unless another question came in between).
        shared = common_prefix(gemma.cached(), null_ids)
        prefix = _prefix_tokens(gemma)
        if shared < len(prefix):
            gemma.start_from_prefix(null_ids, prefix)  # the prefix as evaluated on its own
        else:
            gemma.rewind(min(shared, len(null_ids) - 1))
        gemma.eval(null_ids[gemma.n_tokens :])
        _read_spans(gemma, vocab, len(null_ids), spans, limit)


def _read_spans(
    gemma: Gemma, vocab: Vocabulary, prompt_len: int, spans: Sequence[Generation], limit: int
) -> None:
    after_prompt = gemma.last_logits()
    for g in spans:
        if not g.tokens:
            continue
        whole = len(g.tokens) <= limit
        # The logits after each token read: all of them (the last scores the
        # end) for a whole span, all but the last read for a cut one.
        read = g.tokens if whole else g.tokens[: limit - 1]
        gemma.rewind(prompt_len)
        rows = [after_prompt, *(gemma.logits_after_each(read) if read else [])]
        norms = [_logsumexp(row) for row in rows]
        scored = g.tokens[: min(len(g.tokens), limit)]
        g.null_logprobs = [float(rows[i][t]) - norms[i] for i, t in enumerate(scored)]
        if whole:
            g.null_stop_logprob = _logsumexp(rows[-1][vocab.stop_ids]) - norms[-1]


def _prefix_tokens(gemma: Gemma) -> tuple[int, ...]:
    """The few-shot prefix's tokens, as build_prompt places it."""
    return gemma.prefix_tokens(few_shot_prefix().rstrip("\n"))


def _generation(ids: list[int], constraint: _SpanConstraint) -> Generation:
    vocab = constraint.vocab
    raw = b"".join(vocab.pieces[t] for t in ids)
    starts = [p for p in constraint.matches(raw) if constraint.at_boundary(p + len(raw.strip()))]
    text = raw.decode("utf-8", errors="ignore").strip()
    return Generation(
        text=text,
        tokens=list(ids),
        byte_start=starts[0] if (starts and text) else -1,
        first_step_mass=constraint.first_step_mass,
        logprobs=list(constraint.logprobs),
        stop_logprob=constraint.stop_logprob(),
    )


def _continue(
    gemma: Gemma,
    prompt_ids: list[int],
    first: int,
    constraint: _SpanConstraint,
    max_tokens: int,
    stops: set[int],
) -> list[int]:
    """Greedy, constrained decoding from ``first``, reusing the prompt's KV cache."""
    gemma.rewind(len(prompt_ids))  # eval() overwrites the cache past this point
    ids = [*prompt_ids, first]
    out = [first]
    gemma.eval([first])
    while len(out) < max_tokens:
        token = int(np.argmax(constraint(np.asarray(ids), gemma.last_logits())))
        if token in stops:
            break
        ids.append(token)
        out.append(token)
        gemma.eval([token])
    return out
