"""The one image-tree walk (filescan.iter_image_folders): hidden folders and files (temporaries) are not images,
and verify-dataset counts exactly the images the walk lists."""

from __future__ import annotations

import shutil

from initbench.dataset.filescan import iter_disk_images, iter_image_folders
from initbench.dataset.verify import verify_dataset


def test_the_walk_skips_hidden_names_and_verify_counts_what_it_lists(mini_init_root, tmp_path):
    root = tmp_path / "init"
    shutil.copytree(mini_init_root, root)
    listed_before = list(iter_disk_images(root))
    some = root / listed_before[0][0] / listed_before[0][1]
    shutil.copy(some, some.with_name(f".{some.name}.tmp-1-2"))  # a temporary left by a killed writer
    (root / "night" / ".cache").mkdir()
    shutil.copy(some, root / "night" / ".cache" / "x.png")
    shutil.copy(some, root / "night" / "UPPER.PNG")
    listed = list(iter_disk_images(root))
    assert len(listed) == len(set(listed)) == len(listed_before) + 1
    assert set(listed) == set(listed_before) | {("night", "UPPER.PNG", str(root / "night" / "UPPER.PNG"))}
    assert sum(len(names) for *_, names in iter_image_folders(root)) == len(listed)
    report = verify_dataset(root, workers=1)
    assert report["files_checked"] == sum(d["images"] for d in report["domains"].values()) == len(listed)
    assert report["counts"].get("image-unannotated") == 1  # UPPER.PNG; the hidden copies are not images
