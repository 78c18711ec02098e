from dataclasses import dataclass, field

import pytest

from speechxl.config import ConfigError, apply_overrides, from_dict, load_config, save_config, to_dict


@dataclass(kw_only=True)
class Inner:
    lr: float = 1e-3
    """Learning rate."""
    betas: tuple[float, float] = (0.9, 0.98)
    dims: list[int] = field(default_factory=lambda: [1, 2])

    def validate(self):
        if self.lr <= 0:
            raise ConfigError("lr must be positive")


@dataclass(kw_only=True)
class Outer:
    name: str = "x"
    init: str | None = None
    inner: Inner = field(default_factory=Inner)


def test_overrides_are_parsed_as_yaml():
    d = apply_overrides({"inner": {"lr": 1.0}}, ["inner.lr=5e-4", "name=run1", "inner.dims=[3, 4]", "init="])
    cfg = from_dict(Outer, d)
    assert cfg.inner.lr == 5e-4 and cfg.name == "run1" and cfg.inner.dims == [3, 4] and cfg.init is None


def test_types_are_coerced_and_checked():
    assert from_dict(Outer, {"inner": {"lr": 1, "betas": [0.5, 0.6]}}).inner == Inner(lr=1.0, betas=(0.5, 0.6))
    with pytest.raises(ConfigError, match="inner.lr: expected float"):
        from_dict(Outer, {"inner": {"lr": "fast"}})
    with pytest.raises(ConfigError, match="inner.betas: expected 2 values"):
        from_dict(Outer, {"inner": {"betas": [0.5]}})


def test_unknown_keys_name_the_key_and_the_known_ones():
    with pytest.raises(ConfigError, match=r"inner.lrr: unknown key; known: \['betas', 'dims', 'lr'\]"):
        from_dict(Outer, {"inner": {"lrr": 1}})
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides({}, ["inner.lr"])


def test_yaml_base_chain_and_validation(tmp_path):
    (tmp_path / "base.yaml").write_text("name: base\ninner:\n  lr: 0.1\n  dims: [7]\n")
    (tmp_path / "child.yaml").write_text("base: base.yaml\ninner:\n  lr: 0.2\n")
    cfg = load_config(Outer, tmp_path / "child.yaml", ["name=c"])
    assert (cfg.name, cfg.inner.lr, cfg.inner.dims) == ("c", 0.2, [7])
    with pytest.raises(ConfigError, match="inner: lr must be positive"):
        load_config(Outer, tmp_path / "child.yaml", ["inner.lr=-1"])
    save_config(cfg, tmp_path / "saved.yaml")
    assert load_config(Outer, tmp_path / "saved.yaml") == cfg
    assert to_dict(cfg)["inner"]["betas"] == [0.9, 0.98]


def test_large_and_xlsr_presets_normalise_the_waveform_as_those_models_expect():
    from pathlib import Path

    from speechxl.train.pretrain import load_pretrain_config

    presets = Path(__file__).parents[1] / "recipes" / "pretrain"
    for name, normalised in (("wav2vec2_base", False), ("wav2vec2_large", True), ("xlsr53", True)):
        cfg = load_pretrain_config(presets / f"{name}.yaml", ["data=d", "out=o"])
        assert cfg.model.frontend.normalize_waveform is normalised, name


@pytest.mark.parametrize("override, message", [
    ("model.encoder.num_layers=-1", r"model.encoder: num_layers is at least 1, not -1"),
    ("train.max_steps=-5", r"train: max_steps is at least 0, not -5"),
    ("train.valid_every=0", r"train: valid_every is at least 1, not 0"),
])
def test_values_that_cannot_run_are_refused_by_name(override, message):
    from speechxl.config import ConfigError
    from speechxl.train.pretrain import load_pretrain_config

    with pytest.raises(ConfigError, match=message):
        load_pretrain_config(None, ["data=d", "out=o", override])


def test_print_config_shows_every_key_with_its_meaning(run_cli, capsys):
    from pathlib import Path

    import yaml

    preset = Path(__file__).resolve().parents[1] / "recipes/pretrain/w2v_bert_tiny.yaml"
    run_cli("pretrain", "--config", preset, "--print_config", "optim.lr=2e-3")
    out = capsys.readouterr().out
    assert "family: w2v-bert  # Model family" in out
    assert "  lr: 0.002  # Peak learning rate." in out  # the override, resolved
    assert "    type: conformer  # The part's tag in YAML" in out and "  contrastive_layers: " in out
    assert yaml.safe_load(out)["model"]["encoder"]["type"] == "conformer"  # and it is YAML a preset can be
    run_cli("finetune", "--print_config", "units=phones")
    assert "units: phones  # chars, phones or bpe: the CTC head's units." in capsys.readouterr().out


def test_version(run_cli, capsys):
    import pytest

    import speechxl

    with pytest.raises(SystemExit) as e:
        run_cli("--version")
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"speechxl {speechxl.__version__}"


def test_verb_help_shows_defaults_and_examples(run_cli, capsys):
    import pytest

    with pytest.raises(SystemExit):
        run_cli("decode", "--help")
    out = capsys.readouterr().out
    assert "(default: 50)" in out and "examples:\n  speechxl decode exp/ctc data/test" in out
    with pytest.raises(SystemExit):
        run_cli("prepare", "kaldi", "--help")
    out = capsys.readouterr().out
    assert "(default: 2)" in out and "speechxl prepare kaldi --kaldi_dirs" in out


def test_a_part_named_by_its_tag_alone_takes_its_defaults():
    from speechxl.models.adapters import FullFinetuning, LoraConfig, MMSAdapterConfig

    @dataclass(kw_only=True)
    class Run:
        adapter: FullFinetuning | MMSAdapterConfig | LoraConfig = field(default_factory=FullFinetuning)

    assert from_dict(Run, {"adapter": "lora"}).adapter == LoraConfig()
    assert from_dict(Run, {"adapter": {"type": "mms", "dim": 8}}).adapter == MMSAdapterConfig(dim=8)
    with pytest.raises(ConfigError, match="adapter.type: 'loRA' is not one this takes: none, mms, lora"):
        from_dict(Run, {"adapter": "loRA"})
