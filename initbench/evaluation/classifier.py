"""The domain classifier for IS / CIS: 4 ways (sunny, night, cloudy, rainy), trained on split v1.

Two architectures:

* ``inception_v3``: torchvision Inception-v3 (``transform_input=False``, auxiliary head on during
  training), its ``fc`` and ``AuxLogits.fc`` replaced by 4-way layers. Initialised from the
  ImageNet file ``inception_v3_google-0cc3c7bd.pth`` (torch hub cache or ``weights_dir``,
  sha256-checked), or from scratch when asked (recorded as ``init: scratch``). Input 299 x 299.
* ``small`` (``--small``): a compact CNN (4 stride-2 conv blocks, 16-32-64-64 channels, batch norm,
  global average pooling, linear) on 64 x 64 inputs, for the mini-INIT on a CPU.

Input mapping (both, at training and at evaluation): images in [-1, 1] at any size ->
``F.interpolate(size=(S, S), mode="bilinear", align_corners=False, antialias=True)`` ->
``clamp(-1, 1)``. Google's Inception expects [-1, 1], so no ImageNet mean/std is applied.

Recipe (:class:`Recipe`, stored in the file): images read at short side 360 (the evaluator's
input size; ``short_side``), mapped as above, random horizontal flip (p = 0.5; no colour
augmentation: colour is the domain), class-balanced sampling with replacement (INIT's rainy is
4.6 % of frames), Adam, cross-entropy (+ 0.4 x the auxiliary head's for Inception), a fixed
number of epochs of ``len(train)`` samples each. The file is a ``torch.save`` dict loadable with
``weights_only=True``; the sha256 of its weights (``initbench.digests.sha256_tensors``) is its identity in every result.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from initbench.dataset.release import DOMAINS
from initbench.digests import sha256_tensors
from initbench.errors import CheckpointError, UsageError, WeightsMissingError
from initbench.evaluation import images as I
from initbench.evaluation import weights as W

FORMAT = "initbench-domain-classifier/1"
ARCHS = {"inception_v3": 299, "small": 64}


@dataclass(frozen=True)
class Recipe:
    arch: str = "inception_v3"
    input_size: int = 299
    short_side: int = 360
    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.0
    aux_weight: float = 0.4
    hflip: float = 0.5
    balanced: bool = True
    max_per_domain: int | None = None
    seed: int = 0


RECIPES = {
    "inception_v3": Recipe(),
    "small": Recipe(arch="small", input_size=64, short_side=360, epochs=12, batch_size=8, lr=3e-3, aux_weight=0.0),
}


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int = 4):
        super().__init__()
        layers, c_in = [], 3
        for c in (16, 32, 64, 64):
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def _inception(num_classes: int) -> nn.Module:
    from torchvision.models import inception_v3

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        return inception_v3(weights=None, aux_logits=True, transform_input=False, init_weights=True, num_classes=num_classes)


class DomainClassifier(nn.Module):
    """``forward(images)``: images ``B x 3 x H x W`` in [-1, 1] -> logits ``B x 4`` (order :data:`DOMAINS`)."""

    def __init__(self, arch: str = "small", domains: tuple[str, ...] = DOMAINS):
        super().__init__()
        if arch not in ARCHS:
            raise UsageError(f"classifier arch: expected one of {', '.join(ARCHS)}; got {arch!r}")
        self.arch = arch
        self.input_size = ARCHS[arch]
        self.domains = tuple(domains)
        self.net = SmallCNN(len(domains)) if arch == "small" else _inception(len(domains))

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """The documented input mapping (module docstring)."""
        s = self.input_size
        x = images.float()
        if x.shape[-2:] != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        return x.clamp(-1.0, 1.0)

    def forward(self, images: torch.Tensor, *, return_aux: bool = False):
        out = self.net(self.prepare(images))
        if hasattr(out, "logits"):  # torchvision InceptionOutputs in training mode
            return (out.logits, out.aux_logits) if return_aux else out.logits
        return (out, None) if return_aux else out


def build_classifier(
    arch: str, *, from_scratch: bool, seed: int = 0, weights_dir=None, offline: bool = True
) -> tuple[DomainClassifier, str]:
    """A fresh classifier and its initialisation label (``scratch`` or ``imagenet:<sha256>``)."""
    pretrained = arch != "small" and not from_scratch
    if pretrained:  # find the file before building the network
        try:
            path, sha = W.resolve("inception-v3", weights_dir, offline=offline)
        except WeightsMissingError as exc:
            raise WeightsMissingError(f"{exc} Or pass --from-scratch to train Inception-v3 from a random start (recorded).") from None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = DomainClassifier(arch)
    if not pretrained:
        return clf, "scratch"
    sd = torch.load(path, map_location="cpu", weights_only=True)
    sd = {k: v for k, v in sd.items() if not (k.startswith("fc.") or k.startswith("AuxLogits.fc."))}
    missing, unexpected = clf.net.load_state_dict(sd, strict=False)
    if unexpected or set(missing) != {"fc.weight", "fc.bias", "AuxLogits.fc.weight", "AuxLogits.fc.bias"}:
        raise CheckpointError(f"{path}: not torchvision's Inception-v3 (missing {missing[:5]}, unexpected {unexpected[:5]})")
    return clf, f"imagenet:{sha}"


def save_classifier(clf: DomainClassifier, path: str | os.PathLike, *, recipe: dict | None = None, report: dict | None = None,
                    init: str = "", kind: str = "images") -> str:
    """Write the classifier atomically; returns the sha256 of its weights (its identity, see ``initbench.digests``)."""
    blob = {
        "format": FORMAT,
        "kind": kind,
        "arch": clf.arch,
        "domains": list(clf.domains),
        "input_size": clf.input_size,
        "init": init,
        "recipe": recipe or {},
        "report": report or {},
        "state_dict": {k: v.detach().cpu() for k, v in clf.net.state_dict().items()},
    }
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    torch.save(blob, tmp)
    os.replace(tmp, p)
    return sha256_tensors(blob["state_dict"])


#: What a classifier file classifies (``kind`` in the file; files without it classify whole images).
KINDS = {"images": "--classifier", "objects": "--object-classifier"}


def load_classifier(path: str | os.PathLike, device: str | torch.device = "cpu",
                    kind: str | None = None) -> tuple[DomainClassifier, dict]:
    """(classifier in eval mode on ``device``, ``{"sha256", "file_sha256", "arch", "init", "report", "recipe", "kind"}``).

    ``sha256`` identifies the weights (canonical tensors), so two files holding the same weights (the
    file also stores the training report and its timings) give one fingerprint; ``file_sha256`` is
    the file's own hash. ``kind`` (``images`` or ``objects``): the file must classify that (the error
    names the option, ``--classifier`` or ``--object-classifier``); None accepts either.
    """
    option = KINDS.get(kind or "images", "--classifier")
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{option}: file not found: {p}")
    expected = f"expected a classifier file of format {FORMAT!r} (from `initbench train-classifier`)"
    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
    except Exception:  # torch raises KeyError("101") and the like for a file that is not a torch.save
        raise CheckpointError(f"{option}: {expected}; {p} is not a torch.save file") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        found = f"format {blob.get('format')!r}" if isinstance(blob, dict) else f"a {type(blob).__name__}"
        raise CheckpointError(f"{option}: {expected}; {p} holds {found}")
    missing = [k for k in ("arch", "domains", "state_dict") if k not in blob]
    if missing:
        raise CheckpointError(f"{option}: {expected}; {p} lacks {', '.join(missing)}")
    found_kind = blob.get("kind", "images")
    if kind is not None and found_kind != kind:
        hint = "train-classifier --objects" if kind == "objects" else "train-classifier without --objects"
        raise CheckpointError(f"{option}: expected a classifier of {kind} (`initbench {hint}`); {p} classifies {found_kind}")
    clf = DomainClassifier(blob["arch"], tuple(blob["domains"]))
    try:
        clf.net.load_state_dict(blob["state_dict"], strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{option}: {p}: its weights do not fit a {blob['arch']} classifier "
                              f"({str(exc).splitlines()[0]})") from None
    clf.eval().requires_grad_(False)
    info = {k: blob.get(k) for k in ("arch", "init", "report", "recipe")}
    info["kind"] = found_kind
    info["sha256"] = sha256_tensors(blob["state_dict"])
    info["file_sha256"] = W.sha256_file(p)
    return clf.to(device), info


class _Images(torch.utils.data.Dataset):
    """Items ``(3 x S x S in [-1, 1], label)``; mapped images are kept in memory when they fit in 256 MB."""

    def __init__(self, root, items: list[tuple[str, int]], short_side: int, size: int):
        self.root, self.items, self.short_side, self.size = root, items, short_side, size
        self.cache: dict[int, torch.Tensor] | None = {} if len(items) * 3 * size * size * 4 <= 256 * 2**20 else None

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        key, label = self.items[i]
        if self.cache is not None and i in self.cache:
            return self.cache[i], label
        x = I.load_image(I.key_path(self.root, key), self.short_side)[None]
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)[0].clamp(-1, 1)
        if self.cache is not None:
            self.cache[i] = x
        return x, label


class _Crops(torch.utils.data.Dataset):
    """Items ``(3 x S x S box crop in [-1, 1], label)`` of real objects: each box of each image, cut from the
    image at its file's resolution (as paired-v1 cuts outputs) and resized to ``S`` (antialiased bilinear)."""

    def __init__(self, root, items: list[tuple[str, int]], boxes: dict, size: int):
        self.size = size
        self.cache: dict[int, torch.Tensor] = {}
        self.rows = [(root, key, b, label) for key, label in items for b in boxes[key]]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        from initbench.evaluation.paired_metrics import box_crops

        if i not in self.cache:
            root, key, b, _ = self.rows[i]
            x = I.load_image(I.key_path(root, key), None)[None]
            self.cache[i] = box_crops(x, torch.tensor([b], dtype=torch.float64), self.size)[0]
        return self.cache[i], self.rows[i][3]

    @property
    def labels(self) -> list[int]:
        return [r[3] for r in self.rows]


def _items(assignment, split: str, cap: int | None, seed: int) -> list[tuple[str, int]]:
    items = []
    for label, d in enumerate(DOMAINS):
        keys = I.domain_keys(assignment, d, split)
        if cap is not None:
            keys = I.draw(keys, cap, seed)
        items += [(k, label) for k in keys]
    return items


@torch.inference_mode()
def evaluate_classifier(clf: DomainClassifier, loader, device) -> dict:
    """Per-domain accuracy and the confusion matrix (rows: true domain, columns: predicted)."""
    clf.eval()
    n = len(clf.domains)
    conf = torch.zeros(n, n, dtype=torch.long)
    for x, y in loader:
        pred = clf(x.to(device)).argmax(dim=1).cpu()
        for t, p in zip(y.tolist(), pred.tolist()):
            conf[t, p] += 1
    per = {d: (float(conf[i, i]) / float(conf[i].sum()) if conf[i].sum() > 0 else None) for i, d in enumerate(clf.domains)}
    total = int(conf.sum())
    return {
        "accuracy": float(conf.diag().sum()) / total if total else None,
        "per_domain_accuracy": per,
        "confusion": conf.tolist(),
        "test_counts": {d: int(conf[i].sum()) for i, d in enumerate(clf.domains)},
    }


def _datasets(root, train_items, test_items, rec: Recipe, input_size: int, objects: bool):
    """(train dataset, test dataset, train labels): whole images, or (``objects``) their annotated box crops."""
    if objects:
        from initbench.dataset.index import index_root

        index = index_root(root)
        boxes = {k: [list(b) for b in e.boxes] for k, e in index.items()}
        ds = _Crops(root, [(k, y) for k, y in train_items if k in boxes], boxes, input_size)
        test_ds = _Crops(root, [(k, y) for k, y in test_items if k in boxes], boxes, input_size)
        I.require(ds.rows, "annotated objects in training images", root)
        I.require(test_ds.rows, "annotated objects in test images", root)
        return ds, test_ds, torch.tensor(ds.labels)
    ds = _Images(root, train_items, rec.short_side, input_size)
    test_ds = _Images(root, test_items, rec.short_side, input_size)
    return ds, test_ds, torch.tensor([y for _, y in train_items])


def _fit(clf: DomainClassifier, ds, labels: torch.Tensor, counts: torch.Tensor, rec: Recipe, device, num_workers: int,
         progress) -> None:
    """The recipe's training loop: Adam, cross-entropy (+ the auxiliary head's), seeded sampling and flips."""
    g = torch.Generator().manual_seed(rec.seed)
    if rec.balanced:
        w = (1.0 / counts.clamp(min=1))[labels]
        sampler = torch.utils.data.WeightedRandomSampler(w, len(ds), replacement=True, generator=g)
    else:
        sampler = torch.utils.data.RandomSampler(ds, generator=g)
    # drop_last: a last batch of one image would break batch norm in training mode
    loader = torch.utils.data.DataLoader(ds, batch_size=rec.batch_size, sampler=sampler, num_workers=num_workers,
                                         drop_last=len(ds) > rec.batch_size)
    opt = torch.optim.Adam(clf.parameters(), lr=rec.lr, weight_decay=rec.weight_decay)
    total = rec.epochs * len(loader)
    done = 0
    for _epoch in range(rec.epochs):
        clf.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            if rec.hflip > 0:
                flip = torch.rand(x.shape[0], generator=g) < rec.hflip
                x = torch.where(flip.to(device)[:, None, None, None], x.flip(-1), x)
            logits, aux = clf(x, return_aux=True)
            loss = F.cross_entropy(logits, y)
            if aux is not None and rec.aux_weight > 0:
                loss = loss + rec.aux_weight * F.cross_entropy(aux, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if progress is not None:
                progress(done, total, {"loss": loss.detach().item()})


def train_classifier(
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    small: bool = False,
    from_scratch: bool = False,
    recipe: Recipe | None = None,
    device: str = "cpu",
    weights_dir=None,
    offline: bool = True,
    num_workers: int = 0,
    progress: Callable[[int, int, dict], None] | None = None,
    objects: bool = False,
    split: str = "v1",
    **overrides,
) -> dict:
    """Train the domain classifier on ``root``'s train split, test it on its test split, save it.

    ``overrides`` change :class:`Recipe` fields (``epochs``, ``lr``, ...; recorded).
    ``objects``: classify real box crops instead of whole images (the object-domain classifier of
    paired-v1's ``object_domain_accuracy``; the file records ``kind: objects``); crops are cut at the
    file's resolution and resized to the classifier's input (``short_side`` recorded as None).
    ``split``: the split rule (``v1``; ``drives`` for the mini-INIT v2). ``progress(done, total, info)``
    is called after each batch. Returns the report (also stored in the file).
    """
    rec = recipe or RECIPES["small" if small else "inception_v3"]
    if objects:
        rec = replace(rec, short_side=None)
    rec = replace(rec, **{k: v for k, v in overrides.items() if v is not None})
    t0 = time.perf_counter()
    assignment = I.split_of_root(root, split)
    train_items = _items(assignment, "train", rec.max_per_domain, rec.seed)
    test_items = _items(assignment, "test", None, rec.seed)
    I.require(train_items, "training images", root)
    I.require(test_items, "test images", root)
    clf, init = build_classifier(rec.arch, from_scratch=from_scratch, seed=rec.seed, weights_dir=weights_dir, offline=offline)
    clf.to(device)
    ds, test_ds, labels = _datasets(root, train_items, test_items, rec, clf.input_size, objects)
    counts = torch.bincount(labels, minlength=len(DOMAINS)).float()
    _fit(clf, ds, labels, counts, rec, device, num_workers, progress)
    test_loader = torch.utils.data.DataLoader(test_ds, batch_size=rec.batch_size, num_workers=num_workers)
    report = evaluate_classifier(clf, test_loader, device)
    report.update(
        {
            "arch": rec.arch,
            "init": init,
            "kind": "objects" if objects else "images",
            "split": split,
            "train_counts": {d: int(counts[i]) for i, d in enumerate(DOMAINS)},
            "seconds": round(time.perf_counter() - t0, 2),
            "device": str(device),
        }
    )
    clf.eval()
    report["sha256"] = save_classifier(clf, out, recipe=asdict(rec), report=report, init=init,
                                       kind="objects" if objects else "images")
    report["path"] = str(out)
    report["recipe"] = asdict(rec)
    return report
