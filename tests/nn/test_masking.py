import pytest
import torch

from speechxl.nn.masking import MaskingConfig, span_mask
from tests.host_reads import NoHostReads


def test_masked_share_and_spans():
    torch.manual_seed(0)
    lengths = torch.full((200,), 500)
    m = span_mask(lengths, 500, MaskingConfig(prob=0.65, length=10, min_masks=2))
    share = m.float().mean().item()
    assert 0.45 < share < 0.53  # 0.65 x 10 with overlaps: about 49 %
    # every run of masked positions is at least one span long
    edges = torch.diff(torch.nn.functional.pad(m.int(), (1, 1)), dim=1)
    starts, ends = (edges == 1).nonzero()[:, 1], (edges == -1).nonzero()[:, 1]
    assert ((ends - starts) >= 10).all()


def test_padding_is_never_masked_and_short_rows_get_min_masks():
    torch.manual_seed(1)
    lengths = torch.tensor([100, 40, 25, 5])
    m = span_mask(lengths, 100, MaskingConfig(prob=0.05, length=10, min_masks=2))
    for row, n in zip(m, lengths):
        assert not row[n:].any()
    assert m[1].sum() >= 20 - 9  # two spans (possibly overlapping) in 40 frames
    assert not m[3].any()  # shorter than one span


def test_no_masking():
    assert not span_mask(torch.tensor([50]), 50, MaskingConfig(prob=0.0)).any()


@pytest.mark.parametrize("prob, length, min_masks", [(0.65, 10, 2), (0.05, 10, 2), (0.01, 40, 0), (0.3, 1, 5)])
def test_span_mask_waits_for_nothing_and_draws_what_reading_the_most_spans_drew(prob, length, min_masks):
    """Its topk takes a bound from the sizes, not the largest span count read from the device (a wait per
    micro-batch on a GPU): the same masks for the same draws."""
    cfg = MaskingConfig(prob=prob, length=length, min_masks=min_masks)
    lengths = torch.tensor([500, 431, 120, 45, 12])
    torch.manual_seed(3)
    with NoHostReads():
        got = span_mask(lengths, 500, cfg)
    torch.manual_seed(3)  # the draws as before: n read from the device, topk(n.max())
    avail = (lengths - length + 1).clamp(min=0)
    n = torch.minimum((prob * lengths / length + torch.rand(5)).long().clamp(min=min_masks), avail)
    scores = torch.rand(5, 500).masked_fill(torch.arange(500)[None] >= avail[:, None], -1.0)
    starts = scores.topk(int(n.max()), dim=1).indices
    onehot = torch.zeros(5, 500).scatter_(1, starts, (torch.arange(starts.shape[1])[None] < n[:, None]).float())
    c = onehot.cumsum(1)
    assert torch.equal(got, (c - torch.nn.functional.pad(c, (length, 0))[:, :500]) > 0)
