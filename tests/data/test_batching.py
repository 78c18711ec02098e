import pytest
import torch

from speechxl.data.batching import BatchConfig, BatchPlan, iterate, load_batch
from speechxl.data.manifest import read_manifest
from speechxl.data.sampling import SamplingConfig
from tests.conftest import write_audio_set


@pytest.fixture(scope="module")
def utts(tmp_path_factory):
    return read_manifest(write_audio_set(tmp_path_factory.mktemp("b"), n=20, seconds=(0.6, 3.0)))


def test_crop_to_shortest_fills_batches_without_padding(utts):
    cfg = BatchConfig(max_samples=64000, max_seconds=2.0, crop_to_shortest=True)
    plan = BatchPlan(utts, cfg, seed=0)
    batches = plan.epoch(0)
    assert sorted(p.index for b in batches for p in b) == list(range(20))
    for b in batches:
        assert len({p.length for p in b}) == 1 and len(b) * b[0].length <= 64000
        for p in b:
            assert 0 <= p.start and p.start + p.length <= plan.samples[p.index]
            assert p.length <= 32000


def test_padding_mode_keeps_lengths_and_limits_padded_size(utts):
    cfg = BatchConfig(max_samples=100000, max_seconds=2.5, crop_to_shortest=False)
    plan = BatchPlan(utts, cfg, seed=0)
    assert all(u.duration <= 2.5 for u in plan.utts) and len(plan.utts) < 20
    for b in plan.epoch(0):
        assert all(p.start == 0 and p.length == plan.samples[p.index] for p in b)
        assert len(b) * max(p.length for p in b) <= 100000


def test_plans_are_seeded_per_epoch_and_split_between_workers(utts):
    cfg = BatchConfig(max_samples=48000, max_seconds=2.0)
    plan = BatchPlan(utts, cfg, seed=3, sampling=SamplingConfig())
    assert plan.epoch(1) == BatchPlan(utts, cfg, seed=3, sampling=SamplingConfig()).epoch(1)
    assert plan.epoch(1) != plan.epoch(2)
    w0 = BatchPlan(utts, cfg, seed=3, rank=0, world=2).epoch(0)
    w1 = BatchPlan(utts, cfg, seed=3, rank=1, world=2).epoch(0)
    assert len(w0) == len(w1) and not {id(b) for b in w0} & {id(b) for b in w1}
    assert all(b0 != b1 for b0, b1 in zip(w0, w1))


def test_loaded_batches_and_resume_position(utts):
    plan = BatchPlan(utts, BatchConfig(max_samples=64000, max_seconds=2.0), seed=0)
    batches = plan.epoch(0)
    b = load_batch(plan.utts, batches[0], labels=lambda u: [1, 2])
    assert b["wav"].shape == (len(batches[0]), batches[0][0].length) and b["labels"][0] == [1, 2]
    assert b["wav"].abs().sum() > 0
    all_ids = [x["ids"] for x in iterate(plan, 0)]
    assert [x["ids"] for x in iterate(plan, 0, start=2, num_workers=1)] == all_ids[2:]


def test_creating_a_loader_leaves_the_global_rng_alone(utts):
    plan = BatchPlan(utts, BatchConfig(max_samples=64000, max_seconds=2.0), seed=0)
    state = torch.get_rng_state()
    next(iter(iterate(plan, 0, num_workers=1)))
    assert torch.equal(state, torch.get_rng_state())


def numbered_frames(utts, tmp_path, shift_ms=20.0, leave_out=()):
    """A frame store whose label t of each utterance is t (so a window's labels say where it starts)."""
    from speechxl.data.frame_store import FrameStore, FrameWriter

    w = FrameWriter(tmp_path / "labels", "int16", 1)
    for u in utts:
        if u.id not in leave_out:
            w.add(u.id, torch.arange(int(u.duration * 1000 / shift_ms) + 1).numpy())
    w.close({"frame_shift_ms": shift_ms, "clusters": 1000})
    return FrameStore(tmp_path / "labels")


def test_crops_with_frame_labels_start_on_a_label_frame_and_carry_its_labels(utts, tmp_path):
    labels = numbered_frames(utts, tmp_path, leave_out={utts[0].id})
    plan = BatchPlan(utts, BatchConfig(max_samples=64000, max_seconds=2.0), seed=0, frame_labels=labels)
    assert utts[0].id not in {u.id for u in plan.utts} and len(plan.utts) == 19  # no labels: left out
    cropped = 0
    for pieces in plan.epoch(0):
        batch = plan.load(pieces)
        frames = -(-pieces[0].length // 320)  # frames that start in the window
        assert batch["frame_labels"].shape == (len(pieces), frames)
        for row, p in zip(batch["frame_labels"], pieces):
            assert p.start % 320 == 0
            first = p.start // 320
            assert row.tolist() == list(range(first, first + frames))  # the window's own frames, in order
            cropped += p.start > 0
    assert cropped  # some windows start inside their utterance


def test_labels_past_an_utterances_end_are_ignored_and_a_store_travels_by_path(utts, tmp_path):
    import pickle

    from speechxl.data.batching import IGNORE, Piece

    labels = numbered_frames(utts, tmp_path)
    a, b = sorted(utts[:2], key=lambda u: len(labels[u.id]))
    short, long = len(labels[a.id]), len(labels[b.id])
    pieces = [Piece(0, 0, 320 * (short + 3)), Piece(1, 0, 320 * long)]  # a's window runs past its labels
    batch = load_batch([a, b], pieces, frame_labels=labels, hop=320)
    assert batch["frame_labels"].shape == (2, long)
    assert batch["frame_labels"][0].tolist() == list(range(short)) + [IGNORE] * (long - short)
    assert batch["frame_labels"][1].tolist() == list(range(long))
    copy = pickle.loads(pickle.dumps(labels))  # as a loader's worker gets it: reopened, not copied
    assert len(pickle.dumps(labels)) < 500 and copy[a.id].tolist() == labels[a.id].tolist()


def test_changed_labels_change_the_plans_fingerprint(utts, tmp_path):
    a = BatchPlan(utts, BatchConfig(), seed=0, frame_labels=numbered_frames(utts, tmp_path / "a"))
    b = BatchPlan(utts, BatchConfig(), seed=0, frame_labels=numbered_frames(utts[::-1], tmp_path / "b", 40.0))
    assert a.fingerprint != b.fingerprint != BatchPlan(utts, BatchConfig(), seed=0).fingerprint
