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
    (tmp_path / ".last.tmp456").write_text("step_9\n")  # a pointer update killed before its rename
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
    with pytest.raises(ckpt.CheckpointError, match=r"trainer.pt: holds Python objects besides tensors") as e:
        ckpt.load_trainer_state(d)
    assert "weights_only" not in str(e.value) and "\n" not in str(e.value)  # never suggests turning the check off


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


def test_a_save_reaches_the_disk_before_and_after_its_renames(tmp_path, monkeypatch):
    """What a power loss can cost is what a kill can: every file and the directory are flushed
    before the rename, the parent after it; a pointer likewise."""
    import os

    from speechxl import atomic

    events = []
    monkeypatch.setattr(atomic, "fsync", lambda p: events.append(("fsync", os.path.relpath(p, tmp_path))))
    monkeypatch.setattr(ckpt, "fsync", atomic.fsync)
    replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("rename", os.path.relpath(b, tmp_path))),
                                                     replace(a, b)))
    save(tmp_path, "step_1")
    ckpt.mark(tmp_path, "last", "step_1")
    synced_first = [p for kind, p in events[:events.index(("rename", "step_1"))] if kind == "fsync"]
    tmp = f".tmp-step_1-{os.getpid()}"
    assert set(synced_first) == {f"{tmp}/{f}" for f in ("model.safetensors", "trainer.pt", "config.yaml")} | {tmp}
    after = events[events.index(("rename", "step_1")) + 1]
    assert after == ("fsync", ".")
    assert events[-2:] == [("rename", "last"), ("fsync", ".")]
    assert events[-3][0] == "fsync" and events[-3][1].startswith(".last.tmp")  # the pointer's unpredictable temporary


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 4)
        self.norm = torch.nn.BatchNorm1d(4)  # an integer buffer too
        self.linear.to(torch.bfloat16)  # a tensor of another dtype than the file's: converted on the way in


def test_load_weights_reads_every_tensor_into_the_model_as_load_state_dict_does(tmp_path):
    from safetensors.torch import save_file

    source = _Net().float()
    torch.nn.init.normal_(source.norm.weight)
    source.norm.num_batches_tracked += 7
    save_file(source.state_dict(), str(tmp_path / "model.safetensors"))
    net = _Net()
    ckpt.load_weights(net, tmp_path)
    assert net.linear.weight.dtype == torch.bfloat16 and torch.equal(net.linear.weight, source.linear.weight.bfloat16())
    assert torch.equal(net.norm.weight, source.norm.weight) and int(net.norm.num_batches_tracked) == 7


class _NetWithATable(_Net):
    def __init__(self):
        super().__init__()
        self.register_buffer("table", torch.ones(2), persistent=False)  # computed, on "meta" when built there


def test_load_weights_makes_a_model_built_on_the_meta_device_real(tmp_path):
    from safetensors.torch import save_file

    source = _Net().float()
    save_file(source.state_dict(), str(tmp_path / "model.safetensors"))
    with torch.device("meta"):
        net = _Net()
    ckpt.load_weights(net, tmp_path)
    assert not any(t.is_meta for t in net.state_dict().values()) and net.linear.weight.requires_grad
    assert net.linear.weight.dtype == torch.bfloat16 and torch.equal(net.linear.weight, source.linear.weight.bfloat16())
    with torch.device("meta"):
        net = _NetWithATable()
    with pytest.raises(RuntimeError, match=r"\['table'\] are neither saved nor computed on the CPU"):
        ckpt.load_weights(net, tmp_path)


@pytest.mark.parametrize("fault, message", [
    ("missing", r"do not fit the model built for them \(missing \['norm.bias'\], unexpected \[\]\)"),
    ("shape", r"linear.bias is \(5,\), the model's \(4,\)"),
    ("truncated", "ends inside"),
    ("garbage", "not a safetensors file")])
@pytest.mark.parametrize("read", [ckpt.load_weights, ckpt.add_weights])
def test_load_weights_refuses_a_file_that_does_not_fit_by_name(tmp_path, fault, message, read):
    from safetensors.torch import save_file

    state = _Net().state_dict()
    if fault == "missing":
        del state["norm.bias"]
    if fault == "shape":
        state["linear.bias"] = torch.zeros(5)
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))
    if fault == "truncated":
        path.write_bytes(path.read_bytes()[:-4])
    if fault == "garbage":
        path.write_bytes(b"\x10" + b"\x00" * 7 + b"not json at all!")
    with pytest.raises(ckpt.CheckpointError, match=message):
        read(_Net(), tmp_path)


def test_add_weights_adds_the_floating_point_tensors_and_keeps_the_integer_ones(tmp_path):
    from safetensors.torch import save_file

    source = _Net().float()
    source.norm.num_batches_tracked += 7
    save_file(source.state_dict(), str(tmp_path / "model.safetensors"))
    net = _Net().float()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    ckpt.add_weights(net, tmp_path)
    assert torch.equal(net.linear.weight, before["linear.weight"] + source.linear.weight)
    assert torch.equal(net.norm.running_var, before["norm.running_var"] + source.norm.running_var)
    assert int(net.norm.num_batches_tracked) == 0
