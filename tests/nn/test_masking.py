import torch

from speechxl.nn.masking import MaskingConfig, span_mask


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
