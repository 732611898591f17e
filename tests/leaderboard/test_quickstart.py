"""The quickstart end to end, small: bundled models (tiny ones, bundled here into a private catalogue) scored with
paired-v1 beside the floors and a short run; a rerun reuses every stage, an interruption leaves no half-written
file and the next run finishes the job; --from-scratch trains the models instead."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from initbench.cli import main
from initbench.errors import UsageError
from initbench.leaderboard.store import iter_entry_files
from initbench.leaderboard.validate import validate_files
from initbench.quickstart import QuickstartOptions, run_quickstart

SMALL = dict(steps=2, per_domain=16, size=(64, 40), classifier_epochs=1, grid_inputs=1, grid_styles=2,
             lpips_backbone="random", threads=1)
TINY = {"init": {"dim": 4, "n_res": 1, "mlp_dim": 16, "dis_dim": 4, "dis_n_layer": 2},
        "munit": {}, "cyclegan": {}}


@pytest.fixture(scope="module")
def tiny_catalogue(mini_init_v2_root, tmp_path_factory):
    """INIT, MUNIT and CycleGAN after 2 tiny steps, bundled as mini-init-v2/sunny2night/<m> into a private folder."""
    from initbench.evaluation.paired import evaluate_paired
    from initbench.pretrained.bundle import bundle
    from initbench.evaluation.protocol import PAIRED_V1
    from initbench.training.checkpoints import load_translator
    from initbench.training.config import preset_config
    from initbench.training.trainer import train

    work = tmp_path_factory.mktemp("qs_models")
    folder = work / "files"
    torch.set_num_threads(1)
    for m in ("init", "munit", "cyclegan"):
        cfg = preset_config("tiny", method=m, data=str(mini_init_v2_root), out=str(work / m), max_steps=2,
                            sample_every=0, checkpoint_every=0, device="cpu", method_overrides=TINY[m],
                            split_rule="drives")
        summary = train(cfg)
        res = evaluate_paired(load_translator(summary["checkpoint"]), mini_init_v2_root, "sunny2night",
                              protocol=PAIRED_V1.with_overrides(num_inputs=2, samples_per_input=2), method=m,
                              lpips_backbone="random")
        (work / f"{m}.json").write_text(json.dumps(res))
        bundle(work / m, name=f"mini-init-v2/sunny2night/{m}", command=f"initbench train --method {m} (test)",
               results=[work / f"{m}.json"], seconds=1.0, machine="test", directory=folder,
               catalogue=folder / "catalogue.json")
    return folder


@pytest.fixture
def bundled(tiny_catalogue, monkeypatch):
    monkeypatch.setenv("INITBENCH_PRETRAINED_DIR", str(tiny_catalogue))
    monkeypatch.setenv("INITBENCH_PRETRAINED_CATALOGUE", str(tiny_catalogue / "catalogue.json"))
    return tiny_catalogue


def _tmp_files(root):
    return [p for p in root.rglob("*") if ".tmp" in p.name]


def test_quickstart_end_to_end_rerun_and_interrupt(bundled, tmp_path):
    out = tmp_path / "qs"
    opts = QuickstartOptions(out=str(out), submit_to=str(tmp_path / "lb"), **SMALL)

    def interrupt(stage, done, total, info):  # a Ctrl-C arriving during the short run's training
        if stage == "train-short" and done >= 1:
            raise KeyboardInterrupt

    events = []
    with pytest.raises(KeyboardInterrupt):
        run_quickstart(opts, progress=interrupt, on_stage=lambda e, s, d: events.append((e, s)))
    done = [s for e, s in events if e == "done"]
    # the bundled models are scored and reported before the short run starts
    assert done[-1] == "report-models" and {"evaluate-init", "evaluate-colour-transfer"} <= set(done)
    assert (out / "report.html").is_file() and _tmp_files(out) == []

    events.clear()
    result = run_quickstart(opts, on_stage=lambda e, s, d: events.append((e, s)))
    assert result["reused"] == done
    assert [s for e, s in events if e == "done"] == ["train-short", "evaluate-short-init", "leaderboard", "report"]
    assert _tmp_files(out) == []

    st = result["stages"]
    # the models are the bundled files, checked by sha256 and named in their results
    for m in ("init", "munit", "cyclegan"):
        doc = json.loads(open(st[f"evaluate-{m}"]["results"]).read())
        assert doc["pretrained"]["name"] == f"mini-init-v2/sunny2night/{m}"
        assert doc["protocol"] == "paired-v1" and doc["method"] == m
    assert st["train-short"]["steps"] == 2 and st["train-short"]["pretrained"] is None
    # the short run trains on the train drives only (paired-v1's inputs are the test drives)
    assert json.loads((out / "runs" / "short-init" / "config.json").read_text())["train"]["split_rule"] == "drives"

    for root in (out / "leaderboards", tmp_path / "lb"):
        files = list(iter_entry_files(root, "mini-init-v2", "sunny2night"))
        assert len(files) == 6
        report = validate_files(files)
        assert report.problems == [] and len(report.checked) == 6

    html = (out / "report.html").read_text()
    assert "mini-init-v2/sunny2night/init" in html and "short-init" not in html.split("<h2")[0]
    assert html.count("data:image/png;base64,") > 6  # inputs, truths and translations

    again = run_quickstart(opts)
    assert again["reused"] == list(again["stages"])
    assert len(list(iter_entry_files(tmp_path / "lb"))) == 6

    r = CliRunner().invoke(main, ["quickstart", "--out", str(out), "--steps", "2", "--per-domain", "16", "--size", "64x40",
                                  "--classifier-epochs", "1", "--lpips-backbone", "random", "--threads", "1",
                                  "--submit-to", str(tmp_path / "lb"), "--json", "-"])
    # grid settings differ from SMALL's (CLI defaults): only the reports are redone
    assert r.exit_code == 0, r.output
    assert "protocol paired-v1" in r.stderr and "report:" in r.stderr
    assert set(json.loads(r.stdout)["stages"]) >= {"synth", "model-init", "train-short", "report"}


def test_from_scratch_trains_the_models_and_skips_the_short_run(tmp_path, monkeypatch):
    monkeypatch.setenv("INITBENCH_PRETRAINED_CATALOGUE", str(tmp_path / "none.json"))  # no bundled model is read
    result = run_quickstart(QuickstartOptions(out=str(tmp_path / "qs"), from_scratch=True, scratch_steps=1,
                                              **{**SMALL, "grid_styles": 1}))
    st = result["stages"]
    assert "train-short" not in st and "report" not in st and (tmp_path / "qs" / "report.html").is_file()
    for m in ("init", "munit", "cyclegan"):
        assert st[f"model-{m}"]["steps"] == 1 and st[f"model-{m}"]["pretrained"] is None
        assert "pretrained" not in json.loads(open(st[f"evaluate-{m}"]["results"]).read())


@pytest.mark.parametrize("opts, message", [
    (dict(task="sunny2rainy"), "--task: the bundled models translate sunny2night; got 'sunny2rainy' (add --from-scratch"),
    (dict(scratch_steps=5), "--scratch-steps: only with --from-scratch"),
    (dict(size=(64, 42)), "--size: both sides must be multiples of 4"),
])
def test_bad_options_are_refused_before_any_work(opts, message, tmp_path):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        run_quickstart(QuickstartOptions(out=str(tmp_path / "qs"), **opts))
    assert not (tmp_path / "qs").exists()
