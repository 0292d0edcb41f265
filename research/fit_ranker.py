"""Fit the span ranker's weights (qa/ranking.py) on SQuAD v2 development data.

Two steps, because decoding is the slow part and fitting is instant:

    python -m research.fit_ranker dump ../shared/benchmarks/squad-v2-dev-subset.json \\
        out/ranker/a.json --every 3 --offset 0 --gain-tokens 32 --gain-spans 17
    python -m research.fit_ranker dump ... out/ranker/b.json --every 3 --offset 1 ...
    python -m research.fit_ranker fit out/ranker/a.json
    python -m research.fit_ranker rules out/ranker/a.json out/ranker/b.json \\
        --gain-tokens 8 --gain-spans 4

``dump`` runs the real retrieval and decoding for every question of one split
and writes every candidate span with the facts the ranker sees; ``fit``
chooses weights that maximise the expected F1 of the chosen span on the
training split's answerable questions (a softmax over each question's spans,
L2-regularised), and reports the choice's F1 cross-validated beside the
current rule; ``rules`` replays the pipeline's choice and abstention rules on
dumps with the question-gain weight and floor varied (the README's table),
reading as many tokens and spans after the null question as asked.
Nothing in it names a question or an answer.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import click
import numpy as np

from qa import ranking
from qa.decision import Facts, Rules, decide
from qa.ranking import FEATURES, SpanFacts, _question_gain, comparable, features

# What a fitted abstention decision is fed (a logistic score of how the chosen
# span was reached), reported beside the pipeline's rules; the pipeline does
# not use it (docs/gemma.md).
CONFIDENCE_FEATURES = (
    "similarity",  # the best question-sentence cosine of the evidence
    "opening_mass",  # the model's probability of opening any evidence span
    "mean_logprob",
    "total_logprob",
    "relevance",
    "margin",  # the chosen span's ranking score minus the runner-up's (capped)
    "log_tokens",
    "top_sentence_score",
    "spans",  # how many decoded spans were found in the evidence
    "question_gain",  # the chosen span's gain over a question that asks nothing
)
MARGIN_CAP = 10.0


def confidence_features(
    similarity: float,
    opening_mass: float,
    span: SpanFacts,
    margin: float,
    top_sentence_score: float,
    spans: int,
) -> np.ndarray:
    return np.array(
        [
            similarity,
            opening_mass,
            span.mean_logprob,
            span.total_logprob,
            span.relevance,
            min(margin, MARGIN_CAP),
            math.log(span.tokens + 1),
            top_sentence_score,
            float(spans),
            _question_gain(span),
        ],
        dtype=np.float64,
    )


def _facts(row: dict) -> list[SpanFacts]:
    """The spans the pipeline would rank for this row (those that fit the question)."""
    facts = [SpanFacts(**c["facts"]) for c in row.get("cands", []) if c["fits"]]
    return [facts[i] for i in comparable(facts)]


def _gain_options(default: str):
    """``--gain-tokens`` and ``--gain-spans``: how much is read after the null question."""

    def add(command):
        command = click.option(
            "--gain-spans",
            type=click.IntRange(min=1),
            default=None,
            help=f"Spans read after the null question {default}.",
        )(command)
        return click.option(
            "--gain-tokens",
            type=click.IntRange(min=1),
            default=None,
            help=f"Tokens of each span read after the null question {default}.",
        )(command)

    return add


@click.group()
def cli() -> None:
    """Dump candidate spans and fit the ranker's weights."""


@cli.command()
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--every", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@_gain_options("(default: the pipeline's)")
def dump(
    dataset: str, out: str, every: int, offset: int, gain_tokens: int | None, gain_spans: int | None
) -> None:
    """Decode every question of one split and write its candidate spans.

    Beside the ranker's facts, each span's per-token log-likelihoods after the
    question and after the null question are kept, so that how many tokens to
    read there can be replayed without decoding again (``rules --gain-tokens``):
    dump with more tokens and spans than the pipeline reads to replay fewer."""
    from dataclasses import asdict

    from tqdm import tqdm

    from eval.datasets import load_dataset
    from eval.runner import prepare_index
    from qa.grounding import missing_terms
    from qa.pipeline import AnswerSettings, Assistant, validate_question

    ds = load_dataset(dataset)
    cases = ds.cases[offset::every]
    index_dir, holder = prepare_index(ds)
    asked = {"gain_tokens": gain_tokens, "gain_spans": gain_spans}
    settings = AnswerSettings(**{name: v for name, v in asked.items() if v is not None})
    assistant = Assistant(index_dir, settings)
    rows = []
    try:
        for item in tqdm(cases, desc="Decoding", unit="question"):
            q = item.case.question
            # The pipeline's own steps (qa/pipeline.py), so the fit sees what answering sees.
            resolved, hits, ev = assistant.gather(validate_question(q))
            row = {"id": item.case.id, "q": q, "golds": list(item.golds)}
            rows.append(row)
            if ev is None:
                continue
            row["sim"] = ev.best_similarity
            row["top_sentence_score"] = max(ev.scores, default=0.0)
            row["missing"] = sorted(
                missing_terms(resolved.prompt_question, " ".join(h.chunk.text for h in hits))
            )
            decoded = assistant.decode(ev, resolved)
            row["mass"] = decoded.generation.first_step_mass
            row["cands"] = [
                {
                    "facts": asdict(c.facts),
                    "fits": c.fits,
                    "lps": c.generation.logprobs,
                    "stop": c.generation.stop_logprob,
                    "null_lps": c.generation.null_logprobs,
                    "null_stop": c.generation.null_stop_logprob,
                    "n_tokens": len(c.generation.tokens),
                }
                for c in decoded.candidates
            ]
    finally:
        holder.cleanup()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(rows), encoding="utf-8")
    click.echo(f"{len(rows)} questions written to {out}")


def _problems(rows: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per answerable question: its spans' features and each span's F1 against the golds."""
    from eval.metrics import best_over_golds, f1

    out = []
    for row in rows:
        facts = _facts(row) if row.get("golds") else []
        if facts:
            x = np.stack([features(row["q"], f) for f in facts])
            y = np.array([best_over_golds(f1, f.text, row["golds"]) for f in facts])
            out.append((x, y))
    return out


def _fit(problems: list[tuple[np.ndarray, np.ndarray]], l2: float) -> np.ndarray:
    """Weights maximising the softmax-expected F1 of the chosen span (L-BFGS)."""
    from scipy.optimize import minimize

    train = [(x, y) for x, y in problems if y.max() > 0]  # nothing to learn from the rest
    x = np.concatenate([x for x, _ in train])
    y = np.concatenate([y for _, y in train])
    group = np.repeat(np.arange(len(train)), [len(y) for _, y in train])
    starts = np.r_[0, np.cumsum([len(y) for _, y in train])[:-1]]
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    x = x / scale
    n = len(train)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        p = np.exp(z - np.maximum.reduceat(z, starts)[group])
        p /= np.add.reduceat(p, starts)[group]
        expected = np.add.reduceat(p * y, starts)  # per question
        grad = -(x.T @ (p * (y - expected[group])))
        return -expected.sum() / n + l2 * (w @ w), grad / n + 2 * l2 * w

    w = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B").x
    return w / scale


def _choice_f1(problems: list[tuple[np.ndarray, np.ndarray]], w: np.ndarray) -> float:
    return float(np.mean([y[int(np.argmax(x @ w))] for x, y in problems]))


def _cross_validated(problems, l2: float, folds: int, columns: list[int]) -> float:
    got = []
    for k in range(folds):
        held = [(x[:, columns], y) for i, (x, y) in enumerate(problems) if i % folds == k]
        rest = [(x[:, columns], y) for i, (x, y) in enumerate(problems) if i % folds != k]
        got += [_choice_f1([p], _fit(rest, l2)) for p in held]
    return float(np.mean(got))


@cli.command()
@click.argument("train", type=click.Path(exists=True, dir_okay=False))
@click.option("--folds", default=5, show_default=True)
def fit(train: str, folds: int) -> None:
    """Cross-validate on TRAIN, then fit on all of it (F1 of the chosen span, answerable)."""
    from qa.ranking import WEIGHTS

    rows = json.loads(Path(train).read_text(encoding="utf-8"))
    problems = _problems(rows)
    every = list(range(len(FEATURES)))
    likelihood = np.eye(len(FEATURES))[FEATURES.index("total_logprob")]
    oracle = float(np.mean([y.max() for _x, y in problems]))
    click.echo(f"{len(problems)} answerable questions; best span among those decoded: {oracle:.3f}")
    click.echo(f"  likelihood only:            {_choice_f1(problems, likelihood):.3f}")
    click.echo(f"  current weights:            {_choice_f1(problems, np.asarray(WEIGHTS)):.3f}")
    scores = {}
    for l2 in (0.001, 0.01, 0.1):
        scores[l2] = _cross_validated(problems, l2, folds, every)
        click.echo(f"  fitted, l2={l2:<6} ({folds}-fold): {scores[l2]:.3f}")
    l2 = max(scores, key=scores.get)
    for name in FEATURES:
        columns = [i for i in every if FEATURES[i] != name]
        value = _cross_validated(problems, l2, folds, columns)
        click.echo(f"  without {name:20s} {value:.3f}")
    w = _fit(problems, l2)
    click.echo(f"weights fitted on all {len(problems)} (l2={l2}):")
    for name, value in zip(FEATURES, w, strict=True):
        click.echo(f"    {name:18s} {value:+.4f}")
    cw, bias = _fit_confidence(rows, w, folds)
    click.echo("confidence weights fitted on all (answer when >= 0):")
    for name, value in zip(CONFIDENCE_FEATURES, cw, strict=True):
        click.echo(f"    {name:18s} {value:+.4f}")
    click.echo(f"    {'bias':18s} {bias:+.4f}")


def _rules(settings) -> Rules:
    """The pipeline's Gemma rules (qa/pipeline.py ``_run``) at these settings."""
    return Rules(
        min_similarity=settings.min_similarity,
        min_first_step_mass=settings.min_first_step_mass,
        min_question_gain=settings.min_question_gain,
    )


def _row_facts(row: dict, facts: list[SpanFacts], chosen: SpanFacts | None = None) -> Facts:
    """What answering knew about a dumped question, as qa/decision.py reads it.

    Without ``chosen``: the gates before any span is chosen (nothing to choose
    from, a term the documents never mention, irrelevant evidence, no opening
    expected); with it, the chosen span's own gates too.
    """
    if "sim" not in row:
        return Facts(retrieved=0)
    base = Facts(
        retrieved=1,
        unmentioned=tuple(row["missing"]),
        similarity=row["sim"],
        fitting_span=bool(facts),
        opening_mass=row["mass"],
    )
    if chosen is None:
        return base
    from qa.grounding import echoes_question

    return Facts(
        **{
            **base.__dict__,
            "located": True,
            "echoes_question": echoes_question(chosen.text, row["q"]),
            "question_gain": chosen.question_gain,
        }
    )


def _confidence_data(rows: list[dict], w: np.ndarray):
    """Per question that passes the hard rules: its confidence features and what
    answering (F1 of the chosen span, or 0 if unanswerable) and abstaining (1 if
    unanswerable) would score. Also the summed score of the hard-rule abstentions."""
    from eval.metrics import best_over_golds, f1
    from qa.pipeline import AnswerSettings

    # The pipeline's hard rules, at their defaults; the question gain is what
    # the fitted decision would replace, so it is left out here.
    rules = replace(_rules(AnswerSettings()), min_question_gain=None)
    xs, answer, abstain, fixed, count = [], [], [], 0.0, 0
    for row in rows:
        count += 1
        facts = _facts(row)
        hard = not decide(_row_facts(row, facts), rules).answered
        if not hard:
            scores = ranking.scores(row["q"], facts, w)
            order = np.argsort(-scores, kind="stable")
            chosen = facts[order[0]]
            hard = not decide(_row_facts(row, facts, chosen), rules).answered
        if hard:
            fixed += 0.0 if row["golds"] else 1.0
            continue
        margin = scores[order[0]] - scores[order[1]] if len(facts) > 1 else np.inf
        xs.append(
            confidence_features(
                row["sim"],
                row["mass"],
                chosen,
                margin,
                row["top_sentence_score"],
                len(facts),
            )
        )
        answer.append(best_over_golds(f1, chosen.text, row["golds"]) if row["golds"] else 0.0)
        abstain.append(0.0 if row["golds"] else 1.0)
    return np.stack(xs), np.array(answer), np.array(abstain), fixed, count


def _logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float):
    """Weighted, L2-regularised logistic regression on standardised features."""
    from scipy.optimize import minimize

    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd[sd == 0] = 1.0
    z = (x - mu) / sd
    sign = 2 * y - 1

    def loss(wb: np.ndarray) -> tuple[float, np.ndarray]:
        m = sign * (z @ wb[:-1] + wb[-1])
        lo = np.logaddexp(0, -m)
        g = -weight * sign / (1 + np.exp(m))
        grad = np.r_[z.T @ g, g.sum()] / len(y)
        grad[:-1] += 2 * l2 * wb[:-1]
        return float(weight @ lo) / len(y) + l2 * (wb[:-1] @ wb[:-1]), grad

    wb = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return wb[:-1] / sd, wb[-1] - (wb[:-1] / sd) @ mu  # raw weights and bias


def _fit_confidence(rows: list[dict], w: np.ndarray, folds: int) -> tuple[np.ndarray, float]:
    x, answer, abstain, fixed, count = _confidence_data(rows, w)
    gain = answer - abstain
    y, weight = (gain > 0).astype(float), np.abs(gain) + 1e-3

    has = abstain == 0
    answerable = sum(1 for r in rows if r["golds"])

    def f1_of(decide: np.ndarray) -> float:
        return float((fixed + np.where(decide, answer, abstain).sum()) / count)

    def has_f1(decide: np.ndarray) -> float:
        return float(np.where(decide & has, answer, 0).sum() / answerable)

    click.echo(f"abstention: {len(y)} questions past the hard rules; overall F1 if")
    every = np.ones(len(y), bool)
    click.echo(f"  every one is answered:       {f1_of(every):.3f}  HasAns F1 {has_f1(every):.3f}")
    from qa.pipeline import AnswerSettings

    rules = AnswerSettings()
    old = np.ones(len(y), bool)
    if rules.min_question_gain is not None:
        old &= x[:, CONFIDENCE_FEATURES.index("question_gain")] >= rules.min_question_gain
    click.echo(
        f"  question gain >= {rules.min_question_gain} (the pipeline's rule): {f1_of(old):.3f}"
        f"  HasAns F1 {has_f1(old):.3f}"
    )
    best = None
    for l2 in (0.01, 0.1):
        for shift in (-2.0, -1.5, -1.0, -0.75, -0.5, -0.25, 0.0):
            decide = np.zeros(len(y), bool)
            for k in range(folds):
                held = np.arange(len(y)) % folds == k
                wr, b = _logistic(x[~held], y[~held], weight[~held], l2)
                decide[held] = x[held] @ wr + b - shift > 0
            value, hf = f1_of(decide), has_f1(decide)
            click.echo(
                f"  fitted, l2={l2}, shift {shift:+.2f} ({folds}-fold): {value:.3f}"
                f"  HasAns F1 {hf:.3f}  (answers {decide.mean():.0%})"
            )
            # The best overall F1 that keeps HasAns F1 within 5 points of the
            # pipeline rule's: overall F1 alone is maximised by answering almost
            # nothing, which no user wants.
            if hf >= has_f1(old) - 0.05 and (best is None or value > best[0]):
                best = (value, l2, shift)
    _value, l2, shift = best
    wr, b = _logistic(x, y, weight, l2)
    return wr, float(b - shift)


def _replay(rows: list[dict], weights: np.ndarray, settings) -> tuple[float, float, float]:
    """Overall F1, HasAns F1 and NoAns accuracy of the pipeline's choice and
    abstention rules (qa/pipeline.py) replayed on dumped candidates."""
    from eval.metrics import best_over_golds, f1

    rules = _rules(settings)
    total = has = noans = 0.0
    answerable = sum(1 for r in rows if r["golds"])
    for row in rows:
        facts = _facts(row)
        abstain = not decide(_row_facts(row, facts), rules).answered
        if not abstain:
            chosen = facts[ranking.best(row["q"], facts, weights)]
            abstain = not decide(_row_facts(row, facts, chosen), rules).answered
        if row["golds"]:
            score = 0.0 if abstain else best_over_golds(f1, chosen.text, row["golds"])
            has += score
        else:
            score = 1.0 if abstain else 0.0
            noans += score
        total += score
    return total / len(rows), has / answerable, noans / (len(rows) - answerable)


def _regain(rows: list[dict], tokens: int | None, spans: int | None) -> list[dict]:
    """The rows as if the pipeline had read ``tokens`` tokens of its ``spans``
    best spans after the null question (None: as dumped), recomputed from the
    dumped per-token log-likelihoods by the pipeline's own formula."""
    from qa.synthesis import Generation

    out = []
    for row in rows:
        cands = [dict(c) for c in row.get("cands", [])]
        fitting = [c for c in cands if c["fits"]]
        limit = len(fitting) if spans is None else spans
        chosen = ranking.contenders(row["q"], [SpanFacts(**c["facts"]) for c in fitting], limit)
        read = {id(fitting[i]) for i in chosen}
        for c in cands:
            gain = None
            if id(c) in read and c.get("null_lps"):
                # question_gain adds the end's score only when every token was read.
                g = Generation(
                    c["facts"]["text"],
                    0,
                    logprobs=c["lps"],
                    stop_logprob=c["stop"],
                    tokens=[0] * c["n_tokens"],
                    null_logprobs=c["null_lps"][:tokens],
                    null_stop_logprob=c["null_stop"],
                )
                gain = g.question_gain
            c["facts"] = {**c["facts"], "question_gain": gain}
        out.append({**row, "cands": cands})
    return out


@cli.command()
@click.argument("dumps", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_gain_options("(default: as dumped)")
def rules(dumps: tuple[str, ...], gain_tokens: int | None, gain_spans: int | None) -> None:
    """Replay the pipeline's rules on DUMPS with the question-gain weight and floor varied.

    With --gain-tokens or --gain-spans the gains are recomputed from the
    dumped per-token log-likelihoods, so the dump must have read at least as
    many tokens and spans (``dump --gain-tokens 32 --gain-spans 17`` reads all)."""
    from qa.pipeline import AnswerSettings

    rows = [row for d in dumps for row in json.loads(Path(d).read_text(encoding="utf-8"))]
    if gain_tokens is not None or gain_spans is not None:
        if not any(c.get("null_lps") for r in rows for c in r.get("cands", [])):
            raise click.UsageError(
                "these dumps hold no per-token log-likelihoods; make them with "
                "`python -m research.fit_ranker dump ... --gain-tokens 32 --gain-spans 17`"
            )
        rows = _regain(rows, gain_tokens, gain_spans)
    gain_at = FEATURES.index("question_gain")
    default = AnswerSettings()
    click.echo(f"{len(rows)} questions; columns: overall F1, HasAns F1, NoAns")
    click.echo(f"{'gain weight':>11} {'gain floor':>10}")
    for weight in (0.0, 0.25, 0.5, 1.0):
        w = np.asarray(ranking.WEIGHTS, dtype=float).copy()
        w[gain_at] = weight
        for gain_floor in (None, -1.0, 0.0, 1.0):
            settings = default.model_copy(update={"min_question_gain": gain_floor})
            o, h, n = _replay(rows, w, settings)
            click.echo(f"{weight:11.2f} {gain_floor!s:>10}   {o:.3f} {h:.3f} {n:.3f}")


if __name__ == "__main__":
    sys.exit(cli())
