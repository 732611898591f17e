"""FID and KID through torch-fidelity, streamed.

The evaluator never holds all outputs: :class:`FeatureStream` runs torch-fidelity's feature
extractor (``inception-v3-compat`` by default, or any registered one) on each batch of uint8
images as it is generated and keeps only the feature rows (``N x 2048`` float32). The metrics are
then torch-fidelity's own functions on those rows (``fid_features_to_statistics``,
``fid_statistics_to_metric``, ``kid_features_to_metric``). :func:`fid_kid_datasets` is the
library's one-call path (``calculate_metrics`` on two datasets of uint8 tensors, cache off),
used to check that streaming gives the same numbers.

Inception weights: torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth`` is resolved
with :mod:`initbench.evaluation.weights` (hub cache or ``weights_dir``) and handed over as
``feature_extractor_weights_path``, so torch-fidelity never downloads. Without the file, the
evaluator reports FID/KID as null with the reason; it never substitutes other features.
"""

from __future__ import annotations

import contextlib
import io
import os

import torch

from initbench.errors import UsageError
from initbench.evaluation import weights as W

DEFAULT_EXTRACTOR = "inception-v3-compat"


def _quiet():
    return contextlib.redirect_stdout(io.StringIO())


class FeatureStream:
    """Accumulates torch-fidelity features of uint8 image batches.

    ``extractor``: a torch-fidelity registered name. For ``inception-v3-compat`` the weights file
    is resolved offline-first (``weights_dir``, torch hub cache) and its sha256 is ``self.sha256``;
    ``layer`` None takes the extractor's default layer for FID (``2048`` for Inception);
    for any other extractor ``self.sha256`` is ``extractor:<name>`` (say, a test's tiny one).
    """

    def __init__(
        self,
        extractor: str = DEFAULT_EXTRACTOR,
        layer: str | None = None,
        *,
        device: str | torch.device = "cpu",
        weights_dir: str | os.PathLike | None = None,
        offline: bool = True,
        batch_size: int = 32,
    ):
        from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
        from torch_fidelity.utils import create_feature_extractor

        if extractor not in FEATURE_EXTRACTORS_REGISTRY:
            raise UsageError(f"FID/KID extractor: {extractor!r} is not registered with torch-fidelity; available are: {', '.join(FEATURE_EXTRACTORS_REGISTRY)}")
        if layer is None:  # the extractor's own choice for FID ("2048" for Inception)
            layer = FEATURE_EXTRACTORS_REGISTRY[extractor].get_default_feature_layer_for_metric("fid")
        kwargs = {"verbose": False}
        if extractor == DEFAULT_EXTRACTOR:
            path, sha = W.resolve("inception-fid", weights_dir, offline=offline)
            kwargs["feature_extractor_weights_path"] = str(path)
            self.sha256 = sha
        else:
            self.sha256 = f"extractor:{extractor}"
        self.device = torch.device(device)
        with _quiet():
            self.fe = create_feature_extractor(extractor, [layer], cuda=False, **kwargs).to(self.device)
        self.extractor, self.layer, self.batch_size = extractor, layer, batch_size
        self.rows: list[torch.Tensor] = []

    @torch.inference_mode()
    def features(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """Features (``N x D`` float32, CPU) of ``N x 3 x H x W`` uint8 images, without storing them."""
        if images_uint8.dtype != torch.uint8 or images_uint8.dim() != 4 or images_uint8.shape[1] != 3:
            raise UsageError(f"FID/KID input: expected uint8 N x 3 x H x W; got {images_uint8.dtype} {tuple(images_uint8.shape)}")
        out = []
        for s in range(0, images_uint8.shape[0], self.batch_size):
            feats = self.fe(images_uint8[s : s + self.batch_size].to(self.device))
            out.append(self.fe.convert_features_tuple_to_dict(feats)[self.layer].reshape(feats[0].shape[0], -1).float().cpu())
        return torch.cat(out)

    def add(self, images_uint8: torch.Tensor) -> torch.Tensor:
        f = self.features(images_uint8)
        self.rows.append(f)
        return f

    def add_features(self, f: torch.Tensor) -> None:
        self.rows.append(f)

    def matrix(self) -> torch.Tensor:
        if not self.rows:
            raise UsageError("FID/KID: no images were added")
        return torch.cat(self.rows)


def fid_kid_from_features(
    f1: torch.Tensor, f2: torch.Tensor, *, kid_subsets: int = 100, kid_subset_size: int = 1000, rng_seed: int = 2020
) -> dict:
    """torch-fidelity's FID and KID of two feature matrices (``N1 x D``, ``N2 x D``).

    The KID subset size is ``min(kid_subset_size, N1, N2)`` (recorded as ``kid_subset_size``).
    """
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    if f1.shape[0] < 2 or f2.shape[0] < 2:
        raise UsageError(f"FID/KID: expected at least 2 images on each side; got {f1.shape[0]} and {f2.shape[0]}")
    size = min(kid_subset_size, f1.shape[0], f2.shape[0])
    fid = fid_statistics_to_metric(fid_features_to_statistics(f1), fid_features_to_statistics(f2), False)[KEY_METRIC_FID]
    kid = kid_features_to_metric(f1, f2, kid_subsets=kid_subsets, kid_subset_size=size, rng_seed=rng_seed, verbose=False)
    return {"fid": fid, "kid": kid[KEY_METRIC_KID_MEAN], "kid_std": kid[KEY_METRIC_KID_STD], "kid_subset_size": size, "kid_subsets": kid_subsets}


def fid_kid_datasets(ds1, ds2, *, extractor: str = DEFAULT_EXTRACTOR, layer: str = "2048", weights_path=None,
                     kid_subsets: int = 100, kid_subset_size: int = 1000, rng_seed: int = 2020, batch_size: int = 32) -> dict:
    """``torch_fidelity.calculate_metrics`` on two datasets of uint8 tensors (cache off, CPU)."""
    import torch_fidelity

    kwargs = {}
    if weights_path is not None:
        kwargs["feature_extractor_weights_path"] = str(weights_path)
    size = min(kid_subset_size, len(ds1), len(ds2))
    with _quiet():
        m = torch_fidelity.calculate_metrics(
            input1=ds1, input2=ds2, fid=True, kid=True, cuda=False, cache=False, verbose=False,
            feature_extractor=extractor, feature_layer_fid=layer, feature_layer_kid=layer,
            kid_subsets=kid_subsets, kid_subset_size=size, rng_seed=rng_seed, batch_size=batch_size,
            samples_shuffle=False, **kwargs,
        )
    return {"fid": m["frechet_inception_distance"], "kid": m["kernel_inception_distance_mean"],
            "kid_std": m["kernel_inception_distance_std"], "kid_subset_size": size, "kid_subsets": kid_subsets}
