"""LoRA's layer: the frozen model at first, the same output merged as unmerged, base weights loading under
their own names, and peft's output for the same update where peft is installed."""

import pytest
import torch
from torch import nn

from speechxl.nn.lora import LoRALinear, add_lora, merged


def test_it_starts_as_the_frozen_layer_and_merges_to_the_same_output():
    torch.manual_seed(0)
    base = nn.Linear(6, 4)
    lora = LoRALinear(base, rank=2, alpha=4.0, dropout=0.0)
    x = torch.randn(3, 6)
    assert torch.equal(lora(x), base(x))  # B is zero at first
    with torch.no_grad():
        lora.lora_B.normal_()
    plain = nn.Linear(6, 4)
    plain.load_state_dict(merged(lora.state_dict(), lora.scale))
    torch.testing.assert_close(plain(x), lora(x))


def test_targets_are_wrapped_by_name_and_base_weights_load_under_their_names():
    from speechxl.nn.transformer import TransformerConfig, TransformerEncoder

    torch.manual_seed(0)
    cfg = TransformerConfig(hidden_size=8, num_layers=2, num_heads=2, intermediate_size=16, pos_conv_kernel=4,
                            pos_conv_groups=2)
    plain, adapted = TransformerEncoder(cfg), TransformerEncoder(cfg)
    assert add_lora(adapted, ["q_proj", "v_proj"], 2, 4.0, 0.0) == 4
    missing, unexpected = adapted.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.endswith((".lora_A", ".lora_B")) for k in missing)
    x = torch.randn(1, 5, 8)
    torch.testing.assert_close(adapted.eval()(x), plain.eval()(x))


def test_the_update_is_peft_s():
    peft = pytest.importorskip("peft")
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("q_proj", nn.Linear(6, 4))
    ours = LoRALinear(model.q_proj, rank=2, alpha=8.0, dropout=0.0)
    with torch.no_grad():
        ours.lora_B.normal_()
    theirs = peft.inject_adapter_in_model(peft.LoraConfig(r=2, lora_alpha=8, target_modules=["q_proj"]), model)
    theirs.q_proj.lora_A["default"].weight.data.copy_(ours.lora_A)
    theirs.q_proj.lora_B["default"].weight.data.copy_(ours.lora_B)
    x = torch.randn(3, 6)
    torch.testing.assert_close(theirs(x), ours(x))
