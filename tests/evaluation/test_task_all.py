"""``evaluate --task all``: every task of the protocol the subject can run, one model load, ``OUT/<task>.json`` each,
one table; a model trained on one pair runs that pair both ways and says why the other tasks are skipped."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from initbench.cli import main
from initbench.errors import UsageError
from initbench.evaluation.protocol import PAIRED_V1, V1
from initbench.evaluation.tasks import TaskPlan, plan_tasks, skipped

SMALL_MODEL = dict(dim=4, n_res=1, mlp_dim=16, dis_dim=4, dis_n_layer=2, dis_num_scales=2)
FAST = ["--lpips-backbone", "random", "--no-fid", "--num-inputs", "2", "--samples-per-input", "2", "--short-side", "40"]
OTHERS = {t: f"the model was trained for sunny2night (a = sunny, b = night); it has no generator for {t}"
          for t in ("sunny2rainy", "rainy2sunny", "sunny2cloudy", "cloudy2sunny")}


def _oneline(text: str) -> str:
    """Rich wraps long lines at the terminal width; compare without the line breaks."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A tiny INIT checkpoint trained (step 0) for sunny2night."""
    from initbench.methods.init import InitConfig, InitModel
    from initbench.training.checkpoints import save_checkpoint

    torch.manual_seed(0)
    model = InitModel(InitConfig(**SMALL_MODEL))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "c.pt", method="init", config=model.config_dict(),
                           model_state=model.state_dict(), step=0, train_config={"task": "sunny2night"})


def test_a_models_pair_runs_both_ways_and_the_other_tasks_are_skipped_with_reasons():
    assert V1.tasks == PAIRED_V1.tasks and len(V1.tasks) == 6
    plans = plan_tasks(V1.tasks, "sunny2night")
    assert [(p.task, p.direction) for p in plans if p.runs] == [("sunny2night", "a2b"), ("night2sunny", "b2a")]
    assert skipped(plans) == OTHERS
    one_generator = plan_tasks(V1.tasks, "sunny2night", loaded_directions=frozenset({"a2b"}))
    assert [p.task for p in one_generator if p.runs] == ["sunny2night"]
    assert skipped(one_generator)["night2sunny"] == "needs the b2a generator; the loaded file holds only a2b"
    assert plan_tasks(V1.tasks, trained=False) == [TaskPlan(t, "a2b") for t in V1.tasks]
    with pytest.raises(UsageError, match="^--task all: the checkpoint records no task it was trained for"):
        plan_tasks(V1.tasks, None)


def test_cli_task_all_loads_the_model_once_and_writes_one_file_per_task(ckpt, mini_init_root, tmp_path, monkeypatch):
    import initbench.training.checkpoints as C

    loads = []
    real_resolve = C.resolve_translator
    monkeypatch.setattr(C, "resolve_translator", lambda *a, **k: loads.append(1) or real_resolve(*a, **k))
    out = tmp_path / "out"
    base = ["evaluate", "--method", "init", "--ckpt", str(ckpt), "--data", str(mini_init_root), *FAST]
    r = CliRunner().invoke(main, [*base, "--task", "all", "--out", str(out), "--json", "-"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert len(loads) == 1
    assert list(doc["results"]) == ["sunny2night", "night2sunny"] and doc["skipped"] == OTHERS
    assert sorted(p.name for p in out.iterdir()) == ["night2sunny.json", "sunny2night.json"]
    for task, direction in (("sunny2night", "a2b"), ("night2sunny", "b2a")):
        res = doc["results"][task]
        assert (res["task"], res["direction"], res["model_task"]) == (task, direction, "sunny2night")
        assert json.loads((out / f"{task}.json").read_text()) == res
    # the same numbers as the task run on its own
    single = CliRunner().invoke(main, [*base, "--task", "night2sunny", "--json", "-"])
    assert single.exit_code == 0, single.output
    alone = json.loads(single.stdout)
    in_all = doc["results"]["night2sunny"]
    assert alone["metrics"] == in_all["metrics"] and alone["per_input"] == in_all["per_input"]


def test_cli_task_all_prints_one_table_with_the_skipped_tasks_and_why(ckpt, mini_init_root):
    argv = ["evaluate", "--method", "init", "--ckpt", str(ckpt), "--data", str(mini_init_root), *FAST, "--task", "all"]
    r = CliRunner().invoke(main, argv, terminal_width=200)
    assert r.exit_code == 0, r.output
    text = _oneline(r.stdout)
    assert text.count("protocol v1, every task") == 1
    for task, why in OTHERS.items():
        assert f"{task} skipped: {why}" in text
    lines = r.stdout.splitlines()
    assert any("sunny2night" in ln and "a2b" in ln for ln in lines) and any("night2sunny" in ln and "b2a" in ln for ln in lines)


def test_cli_task_all_with_a_floor_runs_all_six_tasks(mini_init_root, tmp_path):
    out = tmp_path / "floor"
    argv = ["evaluate", "--method", "identity", "--data", str(mini_init_root), *FAST, "--task", "all", "--out", str(out),
            "--json", "-"]
    r = CliRunner().invoke(main, argv)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert list(doc["results"]) == list(V1.tasks) and doc["skipped"] == {}
    assert sorted(p.stem for p in out.iterdir()) == sorted(V1.tasks)
    assert all(doc["results"][t]["task"] == t and doc["results"][t]["method"] == "identity" for t in V1.tasks)


def test_cli_task_all_needs_a_folder_for_out_and_one_task_a_file(ckpt, mini_init_root, tmp_path):
    base = ["evaluate", "--method", "init", "--ckpt", str(ckpt), "--data", str(mini_init_root), *FAST]
    a_file = tmp_path / "r.json"
    a_file.write_text("{}")
    r = CliRunner().invoke(main, [*base, "--task", "all", "--out", str(a_file)])
    assert r.exit_code == 2
    assert _oneline(r.stderr) == ("error: --out: with --task all expected a folder (it gets OUT/<task>.json); "
                                  f"got the file {a_file}")
    r = CliRunner().invoke(main, [*base, "--task", "sunny2night", "--out", str(tmp_path)])
    assert r.exit_code == 2
    assert _oneline(r.stderr) == (f"error: --out: expected a file for one task (a folder only with --task all); "
                                  f"got the folder {tmp_path}")
    assert a_file.read_text() == "{}"


def test_cli_task_all_with_real_images_and_with_protocol_paired_v1(mini_init_root, mini_init_v2_root):
    real = ["evaluate", "--method", "real", "--data", str(mini_init_root), "--lpips-backbone", "random",
            "--num-inputs", "2", "--samples-per-input", "2", "--short-side", "40", "--task", "all", "--json", "-"]
    r = CliRunner().invoke(main, real)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert list(doc["results"]) == list(V1.tasks) and doc["skipped"] == {}
    assert all(res["method"] == "real" and res["task"] == t for t, res in doc["results"].items())
    paired = ["evaluate", "--method", "identity", "--protocol", "paired-v1", "--data", str(mini_init_v2_root),
              "--lpips-backbone", "random", "--samples-per-input", "2", "--num-inputs", "2", "--task", "all", "--json", "-"]
    r = CliRunner().invoke(main, paired)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert list(doc["results"]) == list(PAIRED_V1.tasks) and doc["skipped"] == {}
    assert all(res["protocol"] == "paired-v1" and res["task"] == t for t, res in doc["results"].items())
