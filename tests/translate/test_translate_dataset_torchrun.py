"""``torchrun --nproc-per-node 2 -m initbench translate-dataset`` (gloo, CPU) writes one process's bytes; bad input
stops both ranks before any work, with one error line from rank 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys

#: Run by each rank under torchrun: every command of the test in one launch (a launch costs seconds on 2 busy
#: cores), in one process group the command reuses; each rank records its exit codes.
RANK_SCRIPT = """
import json, sys
import torch
import torch.distributed as dist
from initbench.cli import main

torch.set_num_threads(1)
dist.init_process_group("gloo")
codes = {}
for name, argv in json.loads(open(sys.argv[1]).read()).items():
    try:
        main(argv, prog_name="initbench", standalone_mode=False)
        codes[name] = 0
    except SystemExit as exc:
        codes[name] = exc.code
with open(sys.argv[1] + f".rank{dist.get_rank()}", "w") as f:
    json.dump(codes, f)
dist.barrier()  # leave together: a rank tearing gloo down while its peer still exits was seen to abort (SIGABRT)
dist.destroy_process_group()
"""


def _tree(out) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_two_gloo_ranks_write_the_bytes_of_one_process(sunny_coco, tiny_init_ckpt, td_cli, tmp_path):
    ann, images = sunny_coco
    doc = json.loads(ann.read_text())
    doc["images"].append({"id": 999, "file_name": "sunny/nope.png", "height": 40, "width": 64})
    bad = tmp_path / "missing.json"
    bad.write_text(json.dumps(doc))
    common = ["translate-dataset", "--method", "init", "--ckpt", str(tiny_init_ckpt), "--images", str(images),
              "--num-styles", "2", "--seed", "3"]
    runs = {"bad": [*common, "--coco", str(bad), "--out", str(tmp_path / "bad")],
            "two": [*common, "--coco", str(ann), "--out", str(tmp_path / "two"), "--json", str(tmp_path / "two.json")]}
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    (tmp_path / "rank.py").write_text(RANK_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(tmp_path / "rank.py"),
           str(tmp_path / "runs.json")]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    codes = [json.loads((tmp_path / f"runs.json.rank{r}").read_text()) for r in (0, 1)]
    assert codes[0] == codes[1] == {"bad": 2, "two": 0}, run.stderr[-3000:]

    errors = [" ".join(ln.split()) for ln in run.stderr.splitlines() if ln.startswith("error:")]
    assert errors == [f"error: rank 0 of 2 failed: {bad}: images[12] (id 999, file_name 'sunny/nope.png'): expected the "
                      f"image file {images}/sunny/nope.png; it does not exist (1 of 13 images are missing; --skip-missing "
                      "leaves them out)"]
    assert not (tmp_path / "bad").exists()

    summary = json.loads((tmp_path / "two.json").read_text())
    assert (summary["world_size"], summary["written"], summary["outputs"]) == (2, 24, 24)  # both ranks' files counted
    res = td_cli("--coco", ann, "--images", images, "--num-styles", "2", "--seed", "3", "--out", tmp_path / "one")
    assert res.exit_code == 0, res.output
    one, two = _tree(tmp_path / "one"), _tree(tmp_path / "two")
    assert one.keys() == two.keys() and len(one) == 24 + 2
    assert [name for name in one if one[name] != two[name]] == ["annotations.json"]
    # the COCO file differs in info.world_size alone
    assert b'"world_size": 2' in two["annotations.json"]
    assert two["annotations.json"].replace(b'"world_size": 2', b'"world_size": 1') == one["annotations.json"]
