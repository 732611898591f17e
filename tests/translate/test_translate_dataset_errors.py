"""Bad input to ``initbench translate-dataset``: one line naming the file and the entry, exit 2, before any work
(nothing under --out); missing images with --skip-missing are counted and recorded."""

from __future__ import annotations

import copy
import json

import pytest


@pytest.fixture
def coco_doc(sunny_coco):
    """A fresh copy of the sunny COCO document to break."""
    return json.loads(sunny_coco[0].read_text())


def _fails(td_cli, oneline, ann, images, out, *extra) -> str:
    res = td_cli("--coco", ann, "--images", images, "--out", out, *extra)
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output  # a clean exit, no traceback
    assert not out.exists()  # refused before any work
    return oneline(res.stderr)


def _write(tmp_path, doc) -> str:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    return path


def _with_missing_image(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc["images"].append({"id": 999, "file_name": "sunny/nope.png", "height": 40, "width": 64, "domain": "sunny"})
    doc["annotations"].append({"id": 9999, "image_id": 999, "category_id": 1, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0})
    return doc


def test_a_missing_image_is_named_with_the_count(coco_doc, sunny_coco, td_cli, oneline, tmp_path):
    ann, root = _write(tmp_path, _with_missing_image(coco_doc)), sunny_coco[1]
    msg = _fails(td_cli, oneline, ann, root, tmp_path / "o")
    assert msg == (f"error: {ann}: images[12] (id 999, file_name 'sunny/nope.png'): expected the image file "
                   f"{root}/sunny/nope.png; it does not exist (1 of 13 images are missing; --skip-missing leaves them out)")


def test_skip_missing_leaves_them_out_and_records_them(coco_doc, sunny_coco, td_cli, tmp_path):
    ann = _write(tmp_path, _with_missing_image(coco_doc))
    res = td_cli("--coco", ann, "--images", sunny_coco[1], "--out", tmp_path / "o", "--num-styles", "2", "--skip-missing",
                 "--json", "-")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    doc = json.loads((tmp_path / "o" / "annotations.json").read_text())
    assert summary["skipped_missing"] == 1 and doc["info"]["skipped_missing"] == {"count": 1, "file_names": ["sunny/nope.png"]}
    assert (doc["info"]["source_images"], doc["info"]["translated_images"]) == (13, 12)
    assert len(doc["images"]) == 24 and 999 not in {i["source_image_id"] for i in doc["images"]}
    assert len(doc["annotations"]) == 2 * len(coco_doc["annotations"])  # the missing image's box went with it


def test_a_box_outside_its_image(coco_doc, sunny_coco, td_cli, oneline, tmp_path):
    a = coco_doc["annotations"][3]
    img = next(i for i in coco_doc["images"] if i["id"] == a["image_id"])
    a["bbox"] = [60, 2, 10, 5]  # x + w = 70 on a 64 px wide image
    ann = _write(tmp_path, coco_doc)
    msg = _fails(td_cli, oneline, ann, sunny_coco[1], tmp_path / "o")
    assert msg == (f"error: {ann}: annotations[3] (id {a['id']}, image_id {img['id']}): expected a bbox [x, y, w, h] inside "
                   f"its image (images[{coco_doc['images'].index(img)}] (id {img['id']}, file_name {img['file_name']!r}), "
                   "width 64, height 40; by at most 2 px); found [60, 2, 10, 5]")


def test_a_category_unknown_to_the_file_or_to_the_dataset(coco_doc, sunny_coco, td_cli, oneline, tmp_path):
    doc = copy.deepcopy(coco_doc)
    a = doc["annotations"][0]
    a["category_id"] = 9
    ann = _write(tmp_path, doc)
    msg = _fails(td_cli, oneline, ann, sunny_coco[1], tmp_path / "o")
    assert msg == (f"error: {ann}: annotations[0] (id {a['id']}, image_id {a['image_id']}): expected a category_id of the "
                   "file's categories (1 car, 2 speed limit sign, 3 person); found 9")
    coco_doc["categories"].append({"id": 4, "name": "truck", "supercategory": "street"})
    a = coco_doc["annotations"][2]
    a["category_id"] = 4
    ann = _write(tmp_path, coco_doc)
    msg = _fails(td_cli, oneline, ann, sunny_coco[1], tmp_path / "o")
    assert msg == (f"error: {ann}: annotations[2] (id {a['id']}, image_id {a['image_id']}): expected a category the model's "
                   "dataset knows (1 car, 2 speed limit sign, 3 person); found category_id 4 ('truck')")


def test_the_wrong_images_folder(sunny_coco, td_cli, oneline, tmp_path):
    ann, first = sunny_coco[0], json.loads(sunny_coco[0].read_text())["images"][0]
    wrong = tmp_path / "photos"
    wrong.mkdir()
    msg = _fails(td_cli, oneline, ann, wrong, tmp_path / "o")
    assert msg == (f"error: --images: expected the folder that {ann}'s file_name entries are relative to; none of its 12 "
                   f"images is in {wrong} (e.g. images[0] (id 1, file_name {first['file_name']!r}): no file "
                   f"{wrong}/{first['file_name']})")
    msg = _fails(td_cli, oneline, ann, tmp_path / "absent", tmp_path / "o")
    assert msg == f"error: --images: expected the folder of the images of {ann}; {tmp_path / 'absent'} is not a folder"


def test_an_entry_whose_size_is_not_its_files(coco_doc, sunny_coco, td_cli, oneline, tmp_path):
    img = coco_doc["images"][7]
    img["width"] = 128
    ann = _write(tmp_path, coco_doc)
    msg = _fails(td_cli, oneline, ann, sunny_coco[1], tmp_path / "o")
    assert msg == (f"error: {ann}: images[7] (id {img['id']}, file_name {img['file_name']!r}): expected an image of width 128 "
                   f"and height 40, as the entry says; the file {sunny_coco[1]}/{img['file_name']} is 64 x 40")


def test_not_json_gives_the_line(sunny_coco, td_cli, oneline, tmp_path):
    ann = tmp_path / "bad.json"
    ann.write_text('{\n  "images": [],\n  "annotations": [,]\n}\n')
    msg = _fails(td_cli, oneline, ann, sunny_coco[1], tmp_path / "o")
    assert msg == f"error: {ann}:3: expected JSON; Expecting value (column 19)"


def test_two_images_one_output_name(coco_doc, sunny_coco, td_cli, oneline, tmp_path):
    import shutil

    images = tmp_path / "images"
    shutil.copytree(sunny_coco[1] / "sunny", images / "sunny")
    first = coco_doc["images"][0]
    twin = first["file_name"][: -len(".png")] + ".PNG"  # the same output name on a case-insensitive file system
    shutil.copy(images / first["file_name"], images / twin)
    coco_doc["images"].append({**first, "id": 77, "file_name": twin})
    ann = _write(tmp_path, coco_doc)
    msg = _fails(td_cli, oneline, ann, images, tmp_path / "o")
    stem = first["file_name"][: -len(".png")]
    assert msg == (f"error: --coco: image id 1 ({first['file_name']!r}) and image id 77 ({twin!r}) would both be written as "
                   f"{stem}_s0.png; expected file names that differ in more than their suffix")


def test_data_with_an_annotation_error_is_refused_unless_skip_invalid(mini_init_root, td_cli, oneline, tmp_path):
    import shutil

    root = tmp_path / "init"
    shutil.copytree(mini_init_root, root)
    anno = root / "batch1_anno" / "sunny1.txt"
    lines = anno.read_text().splitlines(keepends=True)
    lines[5] = "3 0.0 15.0 90.0 30.0\n"  # the first image's first box, 90 px wide on a 64 px image
    anno.write_text("".join(lines))
    res = td_cli("--data", root, "--domain", "sunny", "--out", tmp_path / "o")
    assert res.exit_code == 1 and not (tmp_path / "o").exists()
    assert "box-outside-image" in res.stderr and f"{anno}:6" in oneline(res.stderr)
    res = td_cli("--data", root, "--domain", "sunny", "--out", tmp_path / "o", "--skip-invalid", "--json", "-")
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o" / "annotations.json").read_text())
    left_out = doc["info"]["skipped_invalid"]["images_left_out"]
    assert len(left_out) == 1 and left_out[0].endswith("26_00001.png") and len(doc["images"]) == 11
    assert doc["info"]["skip_invalid"] is True and json.loads(res.stdout)["skipped_invalid"][0]["rule"] == "box-outside-image"
