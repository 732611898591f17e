"""Training options of the INIT-against-MUNIT controls: ``--split-rule`` and ``--shuffle-boxes`` are stored in
config.json and the checkpoint, kept by ``--resume``, refused when a resume would change them, and reported by the
evaluator (``method_settings.trained_with``)."""

from __future__ import annotations

import json

import torch
from click.testing import CliRunner

from initbench.cli import main
from initbench.dataset.split import compute_split
from initbench.training.checkpoints import load_checkpoint, load_translator

TINY_INIT = ["--set", "dim=4", "--set", "n_res=1", "--set", "mlp_dim=16", "--set", "dis_dim=4", "--set", "dis_n_layer=2"]


def _train(root, out, *extra):
    argv = ["train", "--method", "init", "--out", str(out), "--threads", "1", "--device", "cpu", "--json", "-", *extra]
    if root is not None:
        argv[3:3] = ["--data", str(root)]
    return CliRunner().invoke(main, argv)


def _oneline(text: str) -> str:
    return " ".join(text.split())


def test_shuffle_boxes_and_split_rule_are_stored_and_survive_resume(mini_init_v2_root, tmp_path):
    out = tmp_path / "run"
    res = _train(mini_init_v2_root, out, "--max-steps", "1", "--shuffle-boxes", "--split-rule", "drives", *TINY_INIT)
    assert res.exit_code == 0, res.output
    stored = json.loads((out / "config.json").read_text())["train"]
    assert stored["shuffle_boxes"] is True and stored["split_rule"] == "drives"
    assert load_checkpoint(out / "checkpoint.pt")["train_config"]["shuffle_boxes"] is True

    again = _train(None, out, "--resume", "--max-steps", "2")  # no flags: the stored settings
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["steps"] == 2
    after = load_checkpoint(out / "checkpoint.pt")["train_config"]
    assert (after["shuffle_boxes"], after["split_rule"]) == (True, "drives")
    assert load_translator(out / "checkpoint.pt").trained_with == {
        "steps": 2, "preset": "tiny", "variant": None, "seed": 0, "split_rule": "drives", "shuffle_boxes": True,
        "method_overrides": {"dim": 4, "n_res": 1, "mlp_dim": 16, "dis_dim": 4, "dis_n_layer": 2}}

    bad = _train(None, out, "--resume", "--max-steps", "3", "--split-rule", "v1")
    assert bad.exit_code == 2
    assert _oneline(bad.stderr) == (f"error: --split-rule: the run in {out} trains split_rule 'drives'; got 'v1' "
                                    "(a resumed run keeps it; choose another --out for a new run)")


def test_a_resume_cannot_switch_the_shuffle_on(mini_init_v2_root, tmp_path):
    out = tmp_path / "plain"
    assert _train(mini_init_v2_root, out, "--max-steps", "1", *TINY_INIT).exit_code == 0
    bad = _train(None, out, "--resume", "--max-steps", "2", "--shuffle-boxes")
    assert bad.exit_code == 2 and "--shuffle-boxes: the run in" in _oneline(bad.stderr)


def test_split_rule_drives_trains_on_the_drives_training_images_only(mini_init_v2_root, tmp_path):
    from initbench.methods.init import InitModel, tiny_config
    from initbench.training.config import preset_config
    from initbench.training.data import build_dataset

    model = InitModel(tiny_config())
    # the split of every image of every domain (a drive holds frames of several domains)
    keys = compute_split([str(p.relative_to(mini_init_v2_root)) for d in ("sunny", "night", "cloudy", "rainy")
                          for p in (mini_init_v2_root / d).rglob("*.png")], "drives")
    keys = {k: s for k, s in keys.items() if k.split("/")[0] in ("sunny", "night")}
    for rule in ("drives", "v1"):
        cfg = preset_config("tiny", data=str(mini_init_v2_root), out=str(tmp_path / rule), split_rule=rule)
        ds = build_dataset(cfg, model)
        test_keys = {k for k, s in keys.items() if s == "test"}
        overlap = test_keys & set(ds.a.keys + ds.b.keys)
        if rule == "drives":
            assert not overlap and set(ds.a.keys + ds.b.keys) == {k for k, s in keys.items() if s == "train"}
        else:  # the reason for the option: split v1 puts paired-v1's test frames into training on this data
            assert overlap


def test_evaluate_records_how_the_checkpoint_was_trained(mini_init_v2_root, tmp_path):
    out = tmp_path / "run"
    assert _train(mini_init_v2_root, out, "--max-steps", "1", "--shuffle-boxes", "--split-rule", "drives",
                  *TINY_INIT).exit_code == 0
    argv = ["evaluate", "--method", "init", "--ckpt", str(out / "checkpoint.pt"), "--data", str(mini_init_v2_root),
            "--task", "sunny2night", "--protocol", "paired-v1", "--lpips-backbone", "random", "--num-inputs", "2",
            "--samples-per-input", "2", "--json", "-"]
    torch.manual_seed(0)
    r = CliRunner().invoke(main, argv)
    assert r.exit_code == 0, r.output
    trained = json.loads(r.stdout)["method_settings"]["trained_with"]
    assert trained["shuffle_boxes"] is True and trained["split_rule"] == "drives" and trained["steps"] == 1
