"""Evaluation protocol v1: every choice the literature leaves open, written down once.

A :class:`Protocol` is frozen; changing any field of a published protocol means a new version
string. Every result records ``protocol`` (the version) and the full spec (:meth:`Protocol.to_dict`).

Protocol v1, field by field:

* **Inputs.** The source domain's ``test`` images of split v1, sorted by key
  (``<domain>/<relpath>``); ``num_inputs`` (100) of them are drawn with
  ``torch.randperm(n, generator=torch.Generator().manual_seed(input_seed))[:num_inputs]``, then
  kept in sorted-key order. Fewer test images than ``num_inputs``: all are used, the result is not
  conformant (reason ``N test images, fewer than num_inputs 100``) and ``num_inputs`` records the count.
* **Input mapping.** Exactly the dataset loaders' test-time pipeline without crop: PNG decoded to
  uint8 RGB, resized (antialiased bilinear, ``initbench.dataset.transforms.resize_short_side``)
  so that the short side is ``short_side`` (360, the paper's size; 1208 x 1920 -> 360 x 572),
  no crop, ``x / 127.5 - 1`` to ``[-1, 1]``.
* **Styles.** Input ``i`` (0-based, in sorted order) gets its own CPU generator seeded with
  ``style_seed + i``; its ``samples_per_input`` (100) style codes are
  ``translator.sample_style(100, generator)``, i.e. sample ``s`` is independent of batch size,
  device and of the other inputs.
* **LPIPS diversity (pairing ``munit``).** For input ``i``, pair ``k`` (``k < 19``) compares
  sample ``2k`` with sample ``2k + 1``: 19 pairs of two independent style draws each, taken from
  the first 38 of the 100 CIS samples (no extra generation). ``lpips`` v0.1, ``net="alex"``,
  generated images in ``[-1, 1]`` at the generated resolution. Headline = mean over all pairs.
  Pairing ``drit`` (option): ``drit_pairs`` (1000) pairs ``(i, j)``, ``i != j``, of sample 0 of
  two different inputs, drawn with a generator seeded ``pair_seed``.
* **IS / CIS.** Domain-classifier probabilities (4 domains) of every output. IS: KL of each
  output's distribution to the marginal over all outputs; ``is_kl`` = mean KL, ``is_exp`` =
  exp(mean KL) (1 split, MUNIT's code); ``is_exp_10split`` = torch-fidelity's convention (10
  splits after a ``numpy.random.RandomState(isc_rng_seed)`` shuffle, mean of exp per split).
  CIS: KL of each output to its own input's marginal; ``cis_kl`` = mean over all outputs,
  ``cis_exp`` = exp(cis_kl) (exp of the grand mean, as MUNIT's code). All in float64.
* **Classifier input.** Outputs in ``[-1, 1]``, resized to the classifier's square input size
  with ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=True)``,
  clamped to ``[-1, 1]``, fed as is (Inception-v3 built with ``transform_input=False``: Google's
  Inception expects ``[-1, 1]``).
* **FID / KID** (extras). torch-fidelity's ``inception-v3-compat`` ``2048`` features of each
  *distinct* output once (``round((x + 1) * 127.5)`` as uint8): a multimodal translator's
  ``num_inputs x samples_per_input`` outputs, a deterministic one's ``num_inputs`` (its samples are
  one image; repeating its features shrinks the covariance and moved a toy KID from -0.005 to
  0.067). Against up to ``fid_max_reference`` target-domain test images (drawn like the inputs,
  seed ``input_seed``) mapped like the inputs; KID with ``kid_subsets`` subsets of
  ``min(kid_subset_size, n1, n2)``; seed ``isc_rng_seed``. Fewer outputs or reference images than
  the feature dimension (2048) make the covariance singular: the result's ``warnings`` say so.

Overrides. :meth:`Protocol.with_overrides` changes only the fields of :data:`OVERRIDABLE`, each
read by the code it describes (a test overrides each one and sees the computation change); the
fields of :data:`FIXED` (the split, crop, resize, LPIPS version and net, classifier input, IS
splits, CIS aggregation, FID layer) are refused: a change of those is a new protocol version.

Conformance (:func:`initbench.evaluation.conformance.conformance`). A result is ``conformant``
only when nothing changed its comparability; otherwise ``nonconformant_reasons`` lists why, one
short sentence each: protocol fields overridden; a task outside ``tasks``; fewer test images than
``num_inputs`` (translators and ``--method real`` alike); an LPIPS backbone other than the
pretrained AlexNet; a classifier other than Inception-v3 fine-tuned from ImageNet by the unmodified
recipe, or one whose file does not record its provenance (no classifier: IS/CIS are null and
``skipped`` says so); data that cannot be identified. Every result records ``data`` (the split and
the sorted input and FID-reference keys it used; for ``real`` the images in its pairs) and
``data_fingerprint`` = sha256 of ``{"inputs", "reference", "split"}`` as key-sorted compact JSON.
A translator result also records ``direction`` (``a2b``/``b2a``, passed to every encode/decode)
and ``model_task`` (the task the model was trained on).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from initbench.dataset.release import PAPER_TASKS
from initbench.errors import UsageError

PAIRINGS = ("munit", "drit")

#: Smallest short side the evaluator accepts: LPIPS's AlexNet (11 x 11 stride-4 conv, then two 3 x 3
#: stride-2 max pools) fails below 31 px.
MIN_SHORT_SIDE = 32


@dataclass(frozen=True)
class Protocol:
    """One versioned evaluation protocol. See the module docstring for the meaning of each field."""

    version: str
    tasks: tuple[str, ...]
    split: str = "v1"
    num_inputs: int = 100
    input_seed: int = 0
    short_side: int | None = 360
    crop: str | None = None
    input_resize: str = "initbench.dataset.transforms.resize_short_side (antialiased bilinear), no crop; x/127.5-1"
    samples_per_input: int = 100
    style_seed: int = 1
    pairing: str = "munit"
    lpips_pairs_per_input: int = 19
    drit_pairs: int = 1000
    pair_seed: int = 2
    lpips_version: str = "0.1"
    lpips_net: str = "alex"
    classifier_input: str = (
        "[-1,1] -> F.interpolate(bilinear, align_corners=False, antialias=True) to the classifier's "
        "square size -> clamp(-1,1); Inception-v3 transform_input=False"
    )
    is_splits: tuple[int, ...] = (1, 10)
    isc_rng_seed: int = 2020
    cis_aggregation: str = "exp(mean over all outputs of KL(p(y|x_ij) || mean_j p(y|x_ij)))"
    fid_feature_layer: str = "2048"
    fid_max_reference: int = 10_000
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    #: False when any field differs from the published protocol of this version (recorded).
    conformant: bool = True
    #: The fields that were overridden, as ``{name: value}`` (empty for a conformant run).
    overrides: tuple[tuple[str, object], ...] = ()

    def lpips_pairs(self) -> int:
        """LPIPS pairs per input under pairing ``munit``: 19, or fewer if fewer than 38 samples."""
        return min(self.lpips_pairs_per_input, self.samples_per_input // 2)

    def with_overrides(self, **changes) -> "Protocol":
        """This protocol with some fields changed; the result is marked not conformant and records them.

        ``None`` values are ignored, so CLI options can be passed straight through. Only the fields of
        :data:`OVERRIDABLE` can change (each is read by the code it describes); the others are fixed by
        the version (:data:`FIXED`) and refused with a UsageError naming the field, as is a value out of range.
        """
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = sorted(set(changes) - set(self.__dataclass_fields__))
        if unknown:
            raise UsageError(f"protocol override: unknown field(s) {', '.join(unknown)}; "
                             f"expected some of {', '.join(OVERRIDABLE)}")
        real = {k: v for k, v in changes.items() if getattr(self, k) != v}
        fixed = sorted(set(real) & (set(FIXED) | set(PAIRED_FIXED)))
        if fixed:
            raise UsageError(f"protocol override: field(s) {', '.join(fixed)} are fixed by protocol {self.version} "
                             f"(no code path computes another value; a change is a new protocol version); "
                             f"overridable are {', '.join(OVERRIDABLE)}")
        if not real:
            return self
        for name, value in real.items():
            _check_override(name, value)
        merged = dict(self.overrides)
        merged.update(real)
        return replace(self, **real, conformant=False, overrides=tuple(sorted(merged.items())))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tasks"] = list(self.tasks)
        d["is_splits"] = list(self.is_splits)
        d["overrides"] = {k: v for k, v in self.overrides}
        return d


#: The fields a run may change (recorded, the result then not conformant), with their smallest value.
#: Each is read by the code it names: the input draw, the image reader, the style and pair generators,
#: LPIPS pairing, IS's 10-split shuffle and KID's subsets, the FID reference draw.
OVERRIDABLE: dict[str, int | None] = {
    "num_inputs": 1, "input_seed": None, "short_side": MIN_SHORT_SIDE, "samples_per_input": 2, "style_seed": None,
    "pairing": None, "lpips_pairs_per_input": 1, "drit_pairs": 1, "pair_seed": None, "isc_rng_seed": None,
    "fid_max_reference": 2, "kid_subsets": 1, "kid_subset_size": 2,
}

#: Fields fixed by the version: descriptions of what the code does, or choices it makes one way only.
FIXED = ("version", "tasks", "split", "crop", "input_resize", "lpips_version", "lpips_net", "classifier_input",
         "is_splits", "cis_aggregation", "fid_feature_layer", "conformant", "overrides")

#: The fields :class:`PairedProtocol` adds, fixed by its version like those of :data:`FIXED`.
PAIRED_FIXED = ("object_crop", "guided")

#: CLI option of a field, where ``initbench evaluate`` has one (error messages name it).
_OPTIONS = {"num_inputs": "--num-inputs", "samples_per_input": "--samples-per-input", "short_side": "--short-side",
            "pairing": "--pairing"}


def _check_override(name: str, value) -> None:
    where = f"{_OPTIONS[name]} (protocol field {name})" if name in _OPTIONS else f"protocol field {name}"
    if name == "pairing":
        if value not in PAIRINGS:
            raise UsageError(f"{where}: expected one of {', '.join(PAIRINGS)}; got {value!r}")
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{where}: expected an integer; got {value!r}")
    low = OVERRIDABLE[name]
    if low is not None and value < low:
        why = {"short_side": " (LPIPS's AlexNet needs inputs of at least 31 px)",
               "samples_per_input": " (one LPIPS pair)"}.get(name, "")
        raise UsageError(f"{where}: expected an integer >= {low}{why}; got {value}")


V1 = Protocol(version="v1", tasks=tuple(PAPER_TASKS))


@dataclass(frozen=True)
class PairedProtocol(Protocol):
    """Protocol ``paired-v1``: a translation scored against its paired ground truth (synthetic mini-INIT v2).

    * **Inputs.** Every ``test`` image of the source domain under split ``drives`` (``num_inputs`` 0 means
      all; an override caps them, drawn as in v1, and the result is not conformant); an input without a
      ground-truth file ``ground_truth/<source>2<target>/<relpath>`` is left out and the result is not
      conformant (reason ``N test inputs have no ground truth``).
    * **Resolution.** None: input, output and truth at the rendered size, compared pixel for pixel
      (``short_side`` None; an override resizes input and truth alike and is recorded).
    * **Samples.** ``samples_per_input`` (10) styles per input, drawn as in v1 (generator ``style_seed + i``);
      1 for a deterministic method.
    * **L1** in [0, 1] pixel units (``|y - t| / 2`` of [-1, 1] images, mean over channels and pixels) over
      the frame, outside every box (background), inside the union of boxes (objects) and per class;
      per input: the mean over samples, and ``*_best`` the smallest sample's; headline = mean over inputs
      (inputs without a box of a kind are left out of that kind's mean).
    * **LPIPS to the truth** (v0.1 AlexNet, as v1): the frame, and each box cut from output and truth alike
      and resized to ``object_crop`` x ``object_crop`` (antialiased bilinear; LPIPS needs >= 31 px).
    * **Domain accuracy**: share of outputs the image classifier puts in the target domain; object domain
      accuracy: share of box crops (resized to the object classifier's input) it puts there.
    * **Guided** (methods with ``style_from_images``): one output per input, decoded with the style encoded
      from the ground truth itself (generator ``style_seed + i`` where the encoder samples). A method with
      an object branch (INIT) also styles each object from the truth's crop of it (same boxes), by
      :mod:`initbench.guided`'s rule, which the result records in ``method_settings.guided``.
    * **LPIPS diversity** as v1's pairing ``munit`` on the samples (5 pairs of 10).
    """

    object_crop: int = 64
    guided: str = "style = translator.style_from_images(ground truth, direction); one output per input"


PAIRED_V1 = PairedProtocol(
    version="paired-v1", tasks=tuple(PAPER_TASKS), split="drives", num_inputs=0, short_side=None,
    input_resize="none: the rendered resolution (output and ground truth compared pixel for pixel)",
    samples_per_input=10, lpips_pairs_per_input=5, fid_max_reference=0, kid_subsets=0, kid_subset_size=0,
)

PROTOCOLS: dict[str, Protocol] = {"v1": V1, "paired-v1": PAIRED_V1}


def get_protocol(name: str) -> Protocol:
    """The published protocol called ``name`` (``v1``, ``paired-v1``)."""
    if name not in PROTOCOLS:
        raise UsageError(f"--protocol: unknown protocol {name!r}; available are: {', '.join(sorted(PROTOCOLS))}")
    return PROTOCOLS[name]
