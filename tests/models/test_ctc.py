import torch

from speechxl.config import from_dict
from speechxl.models.ctc import CTCConfig, CTCModel, greedy_ids
from speechxl.models.speech_encoder import build_encoder
from speechxl.models.wav2vec2 import Wav2Vec2Config
from tests.models.test_wav2vec2 import TINY


def model(**ctc):
    torch.manual_seed(0)
    return CTCModel(build_encoder(from_dict(Wav2Vec2Config, TINY)), 7, from_dict(CTCConfig, ctc))


def test_greedy_merges_repeats_and_drops_blanks_and_padding():
    ids = torch.tensor([[0, 3, 3, 0, 3, 4, 4, 2, 2], [5, 5, 0, 6, 6, 6, 6, 6, 6]])
    log_probs = torch.nn.functional.one_hot(ids, 7).float().log()
    assert greedy_ids(log_probs, torch.tensor([9, 4])) == [[3, 3, 4, 2], [5, 6]]


def test_loss_counts_infeasible_utterances_instead_of_failing():
    m = model(mask_time={"prob": 0.0})
    wav, lengths = torch.randn(2, 4000), torch.tensor([4000, 300])  # 300 samples: 14 frames (hop 20)
    loss, n, logs = m({"wav": wav, "lengths": lengths, "labels": [[1, 2, 3], [1, 2] * 20]})
    assert torch.isfinite(loss) and n == 43 and logs["zeroed"] == 1
    loss.backward()
    assert m.head.weight.grad.abs().sum() > 0


def test_frozen_frontend_and_encoder_get_no_gradient():
    m = model(freeze_encoder_steps=3)
    m.train()
    m.set_step(0)
    m({"wav": torch.randn(2, 4000), "lengths": torch.tensor([4000, 4000]), "labels": [[1, 2], [3]]})[0].backward()
    assert all(p.grad is None for p in m.backbone.parameters())
    assert m.head.weight.grad is not None
    m.zero_grad()
    m.set_step(3)
    m({"wav": torch.randn(2, 4000), "lengths": torch.tensor([4000, 4000]), "labels": [[1, 2], [3]]})[0].backward()
    assert all(p.grad is None for p in m.backbone.frontend.parameters())
    assert m.backbone.encoder.layers[0].attention.q_proj.weight.grad is not None


def test_validation_counts_token_errors():
    m = model().eval()
    with torch.no_grad():
        _, _, logs = m({"wav": torch.randn(2, 4000), "lengths": torch.tensor([4000, 4000]), "labels": [[1, 2], [3, 3, 4]]})
    assert logs["ref_tokens"] == 5 and 0 <= logs["errors"]


def test_a_batch_without_padding_sent_without_lengths_as_the_trainer_does_gives_the_same_loss():
    m = model()
    batch = {"wav": torch.randn(2, 4000), "lengths": torch.tensor([4000, 4000]), "labels": [[1, 2], [3]]}
    torch.manual_seed(1)  # the same SpecAugment draws
    with_lengths = m(batch)[0]
    torch.manual_seed(1)
    assert torch.equal(m({**batch, "lengths": None})[0], with_lengths)
