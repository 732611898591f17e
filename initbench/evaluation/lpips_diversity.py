"""LPIPS distances (``lpips`` v0.1, AlexNet) between pairs of generated images, batched.

The network is the ``lpips`` package's own :class:`lpips.LPIPS` (its forward computes every
distance), built without any download:

* the five linear layers come from the file the ``lpips`` wheel ships
  (``lpips/weights/v0.1/alex.pth``), loaded with ``weights_only=True`` and checked key by key
  (``lpips`` itself loads them with ``strict=False``, which hides a mismatch);
* the AlexNet trunk is ``backbone="pretrained"``: torchvision's ImageNet file
  ``alexnet-owt-7be5be79.pth`` from torch hub's cache (or ``weights_dir``), sha256-checked, its
  ``features.{i}`` tensors loaded into ``net.slice{k}.{i}``; or ``backbone="random"``: the
  torchvision initialisation under ``torch.manual_seed(seed)`` (``lpips.LPIPS(pnet_rand=True)``),
  recorded as ``random`` in the fingerprint so such numbers are never mistaken for real ones.

Inputs are float images ``N x 3 x H x W`` in [-1, 1] (the generator's range; ``normalize=False``).
"""

from __future__ import annotations

import os
import warnings

import torch

from initbench.errors import CheckpointError, UsageError, WeightsMissingError
from initbench.evaluation import weights as W

BACKBONES = ("pretrained", "random")

# torchvision alexnet().features index -> lpips slice number (slices [0:2] [2:5] [5:8] [8:10] [10:12]).
_ALEX_SLICE = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}


def _check_range(x: torch.Tensor, name: str) -> None:
    if x.dim() != 4 or x.shape[1] != 3:
        raise UsageError(f"{name}: expected images N x 3 x H x W; got shape {tuple(x.shape)}")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1.0001 or hi > 1.0001:
        raise UsageError(f"{name}: expected values in [-1, 1] (LPIPS v0.1 input range); got [{lo:.3f}, {hi:.3f}]")


class LpipsScorer:
    """Batched LPIPS v0.1 AlexNet distances with a recorded fingerprint.

    ``fingerprint``: ``{"lpips_backbone": sha256 of the AlexNet file or "random",
    "lpips_linear": sha256 of the linear-layer file}``.
    """

    def __init__(
        self,
        backbone: str = "pretrained",
        *,
        seed: int = 0,
        device: str | torch.device = "cpu",
        weights_dir: str | os.PathLike | None = None,
        offline: bool = True,
    ):
        import lpips

        if backbone not in BACKBONES:
            raise UsageError(f"--lpips-backbone: expected one of {', '.join(BACKBONES)}; got {backbone!r}")
        alex_sd, alex_sha = None, "random"
        if backbone == "pretrained":
            try:
                path, alex_sha = W.resolve("alexnet", weights_dir, offline=offline)
            except WeightsMissingError as exc:
                raise WeightsMissingError(f"{exc} Or choose --lpips-backbone random (recorded as 'random').") from None
            alex_sd = torch.load(path, map_location="cpu", weights_only=True)
        lin_path, lin_sha = W.resolve("lpips-alex-v0.1")
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            # lpips calls tv.alexnet(pretrained=False); torchvision warns that the keyword is deprecated.
            warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
            torch.manual_seed(seed)
            model = lpips.LPIPS(pretrained=False, net="alex", version="0.1", pnet_rand=True, verbose=False)
        self._load_linear(model, torch.load(lin_path, map_location="cpu", weights_only=True), lin_path)
        if alex_sd is not None:
            self._load_alexnet(model, alex_sd, path)
        model.eval().requires_grad_(False)
        self.model = model.to(device)
        self.device = torch.device(device)
        self.backbone = backbone
        self.seed = seed
        self.fingerprint = {"lpips_backbone": alex_sha, "lpips_linear": lin_sha}
        if backbone == "random":
            self.fingerprint["lpips_backbone_seed"] = seed

    @staticmethod
    def _load_linear(model, sd: dict, path) -> None:
        # ``lins.{k}`` are the same modules as ``lin{k}`` (a ModuleList view), so one name each.
        own = {k for k in model.state_dict() if k.startswith("lin") and not k.startswith("lins.")}
        if set(sd) != own:
            raise CheckpointError(f"{path}: expected LPIPS linear-layer keys {sorted(own)}; got {sorted(sd)}")
        model.load_state_dict(sd, strict=False)

    @staticmethod
    def _load_alexnet(model, sd: dict, path) -> None:
        mapped = {}
        for k, v in sd.items():
            parts = k.split(".")
            if parts[0] != "features":
                continue  # the classifier head of AlexNet is not used by LPIPS
            idx = int(parts[1])
            if idx not in _ALEX_SLICE:
                raise CheckpointError(f"{path}: unexpected AlexNet key {k!r}")
            mapped[f"slice{_ALEX_SLICE[idx]}.{idx}.{parts[2]}"] = v
        own = model.net.state_dict()
        if set(mapped) != set(own):
            raise CheckpointError(f"{path}: expected AlexNet features keys for {sorted(own)}; got {sorted(mapped)}")
        model.net.load_state_dict(mapped, strict=True)

    @torch.inference_mode()
    def distances(self, x0: torch.Tensor, x1: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
        """LPIPS(x0[n], x1[n]) for each n: a float32 CPU tensor of length N.

        ``x0``, ``x1``: ``N x 3 x H x W`` in [-1, 1]. ``batch_size`` pairs go through the network at once.
        """
        if x0.shape != x1.shape:
            raise UsageError(f"LPIPS pairs: expected two tensors of one shape; got {tuple(x0.shape)} and {tuple(x1.shape)}")
        _check_range(x0, "x0")
        _check_range(x1, "x1")
        out = []
        for s in range(0, x0.shape[0], max(1, batch_size)):
            a = x0[s : s + batch_size].to(self.device)
            b = x1[s : s + batch_size].to(self.device)
            out.append(self.model(a, b).reshape(-1).float().cpu())
        return torch.cat(out) if out else torch.zeros(0)


def munit_pair_indices(samples_per_input: int, pairs: int = 19) -> list[tuple[int, int]]:
    """Pairing ``munit``: pair k compares sample 2k with sample 2k+1 (independent style draws)."""
    if 2 * pairs > samples_per_input:
        raise UsageError(f"pairs: {pairs} pairs need {2 * pairs} samples per input; got {samples_per_input}")
    return [(2 * k, 2 * k + 1) for k in range(pairs)]


def drit_pair_indices(num_inputs: int, num_pairs: int, seed: int) -> list[tuple[int, int]]:
    """Pairing ``drit``: ``num_pairs`` random pairs (i, j), i != j, of inputs' first samples."""
    if num_inputs < 2:
        raise UsageError(f"pairing drit: needs at least 2 inputs; got {num_inputs}")
    g = torch.Generator().manual_seed(seed)
    i = torch.randint(num_inputs, (num_pairs,), generator=g)
    j = torch.randint(num_inputs - 1, (num_pairs,), generator=g)
    j = j + (j >= i).long()
    return list(zip(i.tolist(), j.tolist()))
