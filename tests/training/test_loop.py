"""The training loop's batching and losses (logic only: tiny tensors, no model)."""

from __future__ import annotations

import math

import torch

from qa.reader import Encoded
from training.loop import (
    Feature,
    TrainSettings,
    batches,
    epoch_plan,
    question_batches,
    shared_loss,
)


def _feature(qid: str, length: int, start: int = 0, end: int = 0, weight: float = 1.0):
    encoded = Encoded(ids=[1] * length, type_ids=[0] * length, context_start=1, offsets=[])
    return Feature(encoded, start, end, weight, qid)


def _features() -> list[Feature]:
    out = []
    for q in range(40):
        out.append(_feature(f"q{q}", 10 + q % 7, start=2, end=3))
        if q % 3:  # a negative chunk for two questions in three
            out.append(_feature(f"q{q}", 12 + q % 5))
    return out


def test_question_batches_keep_every_question_whole_and_use_each_chunk_once():
    features = _features()
    plan = question_batches(features, 4, seed=1)
    used = sorted(i for batch in plan for i in batch)
    assert used == list(range(len(features)))
    for batch in plan:
        qids = {features[i].qid for i in batch}
        for qid in qids:  # all of that question's chunks are in this batch
            assert sum(f.qid == qid for f in features) == sum(features[i].qid == qid for i in batch)
        assert len(batch) <= 4 or len(qids) == 1
    assert plan == question_batches(features, 4, seed=1)  # the same order on a resume
    assert plan != question_batches(features, 4, seed=2)


def test_the_per_chunk_loss_keeps_its_batches_so_earlier_runs_rebuild():
    features = _features()
    settings = TrainSettings(batch_size=4)
    assert epoch_plan(features, settings, 1) == batches(features, 4, settings.seed + 1)
    shared = TrainSettings(batch_size=4, shared_loss=1.0)
    assert epoch_plan(features, shared, 1) == question_batches(features, 4, shared.seed + 1)


def _log_softmax_at(values: list[float], right: list[int]) -> float:
    top = math.log(sum(math.exp(v) for v in values))
    return math.log(sum(math.exp(values[i]) for i in right)) - top


def test_the_shared_loss_is_one_softmax_over_all_of_a_questions_chunks():
    # Question a: the answer at (2, 3) in its first chunk, none in its second.
    # Question b: unanswerable, one chunk. Position 4 of the first row is padding.
    features = [
        _feature("a", 5, start=2, end=3, weight=1.0),
        _feature("a", 5),
        _feature("b", 5, weight=0.5),
    ]
    starts = torch.tensor(
        [[0.5, 0.1, 2.0, 0.3, 9.0], [1.0, 0.2, 0.4, 1.5, 0.0], [0.7, 0.1, 0.2, 0.3, 0.4]]
    )
    ends = torch.tensor(
        [[0.2, 0.1, 0.3, 1.8, 9.0], [0.9, 0.0, 0.1, 0.2, 0.6], [1.1, 0.5, 0.4, 0.3, 0.2]]
    )
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1]])
    losses, weights = shared_loss(starts, ends, features, mask)
    assert weights == [1.0, 0.5]

    a_starts = [0.5, 0.1, 2.0, 0.3, 1.0, 0.2, 0.4, 1.5, 0.0]  # the padding left out
    a_ends = [0.2, 0.1, 0.3, 1.8, 0.9, 0.0, 0.1, 0.2, 0.6]
    want_a = -(_log_softmax_at(a_starts, [2]) + _log_softmax_at(a_ends, [3])) / 2
    b_starts, b_ends = starts[2].tolist(), ends[2].tolist()
    want_b = -(_log_softmax_at(b_starts, [0]) + _log_softmax_at(b_ends, [0])) / 2
    assert torch.allclose(losses, torch.tensor([want_a, want_b]), atol=1e-5)


def test_an_unanswered_question_is_right_on_any_of_its_chunks_cls():
    features = [_feature("c", 3), _feature("c", 3)]
    starts = torch.tensor([[1.0, 0.0, 0.5], [2.0, 0.3, 0.1]])
    ends = torch.tensor([[0.4, 0.2, 0.0], [0.1, 0.6, 0.3]])
    mask = torch.ones(2, 3, dtype=torch.long)
    losses, _ = shared_loss(starts, ends, features, mask)
    flat_s, flat_e = starts.reshape(-1).tolist(), ends.reshape(-1).tolist()
    want = -(_log_softmax_at(flat_s, [0, 3]) + _log_softmax_at(flat_e, [0, 3])) / 2
    assert math.isclose(float(losses[0]), want, abs_tol=1e-5)


def test_bf16_autocast_is_only_on_when_asked():
    import torch

    from training.loop import TrainSettings, autocast

    with autocast(TrainSettings(), torch.device("cpu")):
        assert not torch.is_autocast_enabled("cpu")
    with autocast(TrainSettings(bf16=True), torch.device("cpu")):
        assert torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
