import pytest
import torch

from speechxl import checkpoint as ckpt
from tests.test_config import Outer


def save(root, name):
    return ckpt.save_checkpoint(root, name, {"w": torch.ones(2)}, {"step": int(name[-1]), "rng": [torch.get_rng_state()]},
                                Outer())


def test_save_mark_resolve_and_prune(tmp_path):
    for i in range(1, 5):
        save(tmp_path, f"step_{i}")
        ckpt.mark(tmp_path, "last", f"step_{i}")
        if i == 1:
            ckpt.mark(tmp_path, "best", "step_1")
    (tmp_path / ".tmp-step_9-123").mkdir()  # a save that was killed
    ckpt.prune(tmp_path, keep_last=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best", "last", "step_1", "step_3", "step_4"]
    assert ckpt.resolve(tmp_path, "last").name == "step_4"
    state = ckpt.load_trainer_state(tmp_path / "step_4")  # weights_only=True
    assert state["step"] == 4
    assert torch.equal(ckpt.load_model_state(tmp_path / "step_4")["w"], torch.ones(2))
    assert (tmp_path / "step_4" / "config.yaml").is_file()


def test_find_checkpoint(tmp_path):
    save(tmp_path / "exp" / "checkpoints", "step_1")
    ckpt.mark(tmp_path / "exp" / "checkpoints", "last", "step_1")
    assert ckpt.find_checkpoint(tmp_path / "exp").name == "step_1"
    assert ckpt.find_checkpoint(tmp_path / "exp" / "checkpoints" / "step_1").name == "step_1"
    with pytest.raises(FileNotFoundError, match="no speechxl checkpoint"):
        ckpt.find_checkpoint(tmp_path / "nothing")


def test_a_pickled_object_in_trainer_state_is_refused(tmp_path):
    d = save(tmp_path, "step_1")
    torch.save({"evil": Outer()}, d / "trainer.pt")
    with pytest.raises(Exception, match="[Ww]eights only"):
        ckpt.load_trainer_state(d)


def test_a_save_killed_while_replacing_a_step_restores_the_previous_copy(tmp_path):
    save(tmp_path, "step_4")
    ckpt.mark(tmp_path, "last", "step_4")
    # killed between moving the old copy aside and renaming the new one in
    (tmp_path / "step_4").rename(tmp_path / ".old-step_4-999")
    (tmp_path / ".tmp-step_4-999").mkdir()
    assert ckpt.resolve(tmp_path, "last") == tmp_path / "step_4"
    assert ckpt.load_trainer_state(tmp_path / "step_4")["step"] == 4


def test_last_naming_a_missing_step_falls_back_to_the_newest_complete_one(tmp_path, caplog):
    for i in (2, 3):
        save(tmp_path, f"step_{i}")
    ckpt.mark(tmp_path, "last", "step_5")  # gone, nothing moved aside
    (tmp_path / "step_6").mkdir()  # incomplete
    assert ckpt.resolve(tmp_path, "last").name == "step_3"
    assert "names step_5, which is missing or incomplete; using step_3" in caplog.text


def test_resaving_a_step_leaves_one_complete_copy(tmp_path):
    save(tmp_path, "step_1")
    save(tmp_path, "step_1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step_1"]
