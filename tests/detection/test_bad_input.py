"""Each bad input to ``detection-benchmark`` gets its one-line error (exit 2) naming the option, file and entry,
before any work starts: nothing is written."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from initbench.cli import main


def _fails(tmp_path, train, test):
    out = tmp_path / "R.json"
    r = CliRunner().invoke(main, ["detection-benchmark", "--train", train, "--test", test, "--out", str(out),
                                  "--arch", "tiny", "--epochs", "1", "--size", "40"])
    assert r.exit_code == 2, r.output
    assert not out.exists() and not list(tmp_path.glob("*.detections.json"))
    line = r.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    return line.removeprefix("error: ")


def _edited(coco_sets, tmp_path, domain, edit):
    doc = json.loads(coco_sets[domain].read_text())
    edit(doc)
    path = tmp_path / f"edited-{domain}.json"
    path.write_text(json.dumps(doc))
    return path


def test_malformed_spec_names_the_option(tmp_path, spec, coco_sets):
    assert _fails(tmp_path, spec("sunny"), str(coco_sets["night"])) == (
        f"--test: expected ANN.json:IMAGES (a COCO annotation file, a colon, its image folder); got '{coco_sets['night']}'")


def test_missing_annotation_file(tmp_path, spec, coco_sets):
    assert _fails(tmp_path, f"{tmp_path}/nope.json:{coco_sets['root']}", spec("night")) == (
        f"--train: annotation file {tmp_path}/nope.json does not exist (from '{tmp_path}/nope.json:{coco_sets['root']}')")


def test_wrong_image_folder(tmp_path, spec, coco_sets):
    first = json.loads(coco_sets["night"].read_text())["images"][0]["file_name"]
    assert _fails(tmp_path, spec("sunny"), f"{coco_sets['night']}:{tmp_path}") == (
        f"--test: none of the 4 images of {coco_sets['night']} is under the image folder {tmp_path} (e.g. {first!r}); "
        "is IMAGES the right folder?")


def test_missing_image_names_the_entry(tmp_path, spec, coco_sets):
    ann = _edited(coco_sets, tmp_path, "sunny", lambda d: d["images"][1].update(file_name="sunny/gone.png"))
    assert _fails(tmp_path, f"{ann}:{coco_sets['root']}", spec("night")) == (
        f"--train {ann}: images[1] (id 2): image {coco_sets['root']}/sunny/gone.png does not exist")


def test_image_of_another_size(tmp_path, spec, coco_sets):
    ann = _edited(coco_sets, tmp_path, "night", lambda d: d["images"][0].update(width=128))
    name = json.loads(ann.read_text())["images"][0]["file_name"]
    assert _fails(tmp_path, spec("sunny"), f"{ann}:{coco_sets['root']}") == (
        f"--test {ann}: images[0] (id 1): {coco_sets['root']}/{name} is 64x40; the file says 128x40")


@pytest.mark.parametrize("bbox", [[60.0, 10.0, 8.0, 5.0], [-2.0, 10.0, 8.0, 5.0], [10.0, 10.0, 0.0, 5.0]])
def test_box_outside_its_image(tmp_path, spec, coco_sets, bbox):
    ann = _edited(coco_sets, tmp_path, "night", lambda d: d["annotations"][0].update(bbox=bbox))
    doc = json.loads(ann.read_text())
    a = doc["annotations"][0]
    name = next(im["file_name"] for im in doc["images"] if im["id"] == a["image_id"])
    assert _fails(tmp_path, spec("sunny"), f"{ann}:{coco_sets['root']}") == (
        f"--test {ann}: annotations[0] (id {a['id']}): bbox [x, y, w, h] = {bbox} is empty or reaches outside its "
        f"64x40 image {name!r}")


def test_category_the_detector_was_not_built_for(tmp_path, spec, coco_sets):
    ann = _edited(coco_sets, tmp_path, "night", lambda d: d["annotations"][0].update(category_id=7))
    assert _fails(tmp_path, spec("sunny"), f"{ann}:{coco_sets['root']}") == (
        f"--test {ann}: annotations[0] (id 1): category_id 7 is not among the file's categories "
        "1 'car', 2 'speed limit sign', 3 'person'")


def test_sets_whose_categories_differ(tmp_path, spec, coco_sets):
    def edit(d):
        d["categories"].append({"id": 4, "name": "bus", "supercategory": "street"})
        d["categories"][0]["name"] = "vehicle"

    ann = _edited(coco_sets, tmp_path, "night", edit)
    assert _fails(tmp_path, spec("sunny"), f"{ann}:{coco_sets['root']}") == (
        f"--test {ann}: categories differ from --train {coco_sets['sunny']}, which the detector is built for: "
        f"only in {ann.name}: 1 'vehicle', 4 'bus'; only in sunny.json: 1 'car'")


def test_unreadable_annotation_file_names_file_and_line(tmp_path, spec, coco_sets):
    ann = tmp_path / "broken.json"
    ann.write_text('{"images": [\n  {"id": 1,\n}')
    assert _fails(tmp_path, spec("sunny"), f"{ann}:{coco_sets['root']}").startswith(
        f"{ann}:3: expected COCO instances JSON; ")


def test_box_of_an_unknown_image_or_not_four_numbers(tmp_path, spec, coco_sets):
    ann = _edited(coco_sets, tmp_path, "night", lambda d: d["annotations"][0].update(image_id=99))
    assert _fails(tmp_path, spec("sunny"), f"{ann}:{coco_sets['root']}") == (
        f"--test {ann}: annotations[0] (id 1): image_id 99 is not among the file's images")
    ann = _edited(coco_sets, tmp_path, "night", lambda d: d["annotations"][0].update(bbox=[1, 2, 3]))
    assert _fails(tmp_path, spec("sunny"), f"{ann}:{coco_sets['root']}") == (
        f"--test {ann}: annotations[0] (id 1): expected bbox [x, y, w, h] (4 numbers); got [1, 2, 3]")
