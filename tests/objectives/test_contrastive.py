import torch

from speechxl.objectives.contrastive import ContrastiveConfig, ContrastiveLoss, sample_negatives
from tests.host_reads import NoHostReads


def test_distractors_come_from_the_same_utterance_and_never_the_target():
    torch.manual_seed(0)
    counts = torch.tensor([5, 1, 30])
    neg, valid = sample_negatives(counts, 36, 100)
    utt = torch.repeat_interleave(torch.arange(3), counts)
    assert (utt[neg] == utt[:, None]).all()
    assert not (neg == torch.arange(36)[:, None])[valid].any()
    assert valid.tolist() == [True] * 5 + [False] + [True] * 30
    # uniform over the other frames of the utterance
    hist = torch.bincount(neg[6:].flatten() - 6, minlength=30).float()
    assert hist.min() > 0.8 * hist.mean() and hist.max() < 1.2 * hist.mean()


def test_loss_rewards_context_that_matches_its_target():
    torch.manual_seed(0)
    loss_fn = ContrastiveLoss(ContrastiveConfig(num_negatives=10, final_dim=8, diversity_weight=0.0,
                                                feature_penalty_weight=0.0), hidden_size=8, quantized_dim=8, num_codes=4)
    with torch.no_grad():
        loss_fn.project_hid.weight.copy_(torch.eye(8))
        loss_fn.project_hid.bias.zero_()
        loss_fn.project_q.weight.copy_(torch.eye(8))
        loss_fn.project_q.bias.zero_()
    q = torch.randn(20, 8)
    codes = torch.arange(40).view(20, 2)  # all distinct
    stats = {"prob_perplexity": torch.tensor(4.0), "code_perplexity": torch.tensor(4.0)}
    with NoHostReads():  # the distractors are drawn and scored without waiting for the device
        good, n, logs = loss_fn(q, q, codes, torch.tensor([20]), stats, torch.tensor(0.0))
    bad, _, _ = loss_fn(torch.randn(20, 8), q, codes, torch.tensor([20]), stats, torch.tensor(0.0))
    assert n == 20 and good < bad and logs["correct"] == 20


def test_distractors_with_the_targets_codes_are_left_out():
    torch.manual_seed(0)
    loss_fn = ContrastiveLoss(ContrastiveConfig(num_negatives=5, final_dim=4), hidden_size=4, quantized_dim=4, num_codes=4)
    codes = torch.zeros(6, 2, dtype=torch.long)  # every frame has the same codes: nothing to contrast
    stats = {"prob_perplexity": torch.tensor(1.0), "code_perplexity": torch.tensor(1.0)}
    loss, n, logs = loss_fn(torch.randn(6, 4), torch.randn(6, 4), codes, torch.tensor([6]), stats,
                            torch.tensor(0.0))
    assert logs["contrastive"] == 0.0  # only the target is left among the candidates
