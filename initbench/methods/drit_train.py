"""DRIT's training losses (``src/model.py`` of HsinYingLee/DRIT), phase by phase for the shared trainer.

Each batch is split as theirs (batch size 2, ``half_size`` 1): the first half of ``batch["a"]`` /
``batch["b"]`` takes the encoded-attribute path, the second half the random-attribute path.

Phases (``DRIT.phases``): ``dis_content`` alone on ``d_iter - 1`` of every ``d_iter`` steps; then
``dis`` (the four image discriminators on one forward pass, fakes detached), ``dis_content`` (on that
pass's content codes) and ``gen``. Weights: image GANs BCE; content adversary with target 0.5;
cross-cycle and self-reconstruction L1 x 10; KL on z_a x 0.01 (analytic with ``concat``, else
``mean(z^2)``); ``mean(z_c^2)`` x 0.01; latent regression L1 x 10; mode seeking ``1 / (ratio + 1e-5)``.

One deliberate difference: their ``update_EG`` takes two optimiser steps on one forward pass
(all of E_c, E_a, G on the EG losses, then E_c and G again on the "G alone" losses through the
retained graph). The shared trainer takes one step per phase, so ``gen`` steps once on the sum.
As in their code the "G alone" losses never update E_a (they zero its gradient before using it):
the latent-regression pass runs E_a with detached weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch.func import functional_call

from initbench.errors import UsageError

if TYPE_CHECKING:
    from initbench.methods.drit import DRIT


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    # sigmoid + binary_cross_entropy in their code; the logit form is the same loss, computed stably
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _dis_loss(netD, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    loss = real.new_zeros(())
    for out_fake, out_real in zip(netD(fake.detach()), netD(real)):
        loss = loss + _bce(out_fake, 0.0) + _bce(out_real, 1.0)
    return loss


def _gen_adv(netD, fake: torch.Tensor) -> torch.Tensor:
    loss = fake.new_zeros(())
    for out in netD(fake):
        loss = loss + _bce(out, 1.0)
    return loss


def _content_dis_loss(model: DRIT, zc_a: torch.Tensor, zc_b: torch.Tensor) -> torch.Tensor:
    # their backward_contentD: content codes of A are "fake" (0), of B "real" (1)
    return _bce(model.disContent(zc_a.detach())[-1], 0.0) + _bce(model.disContent(zc_b.detach())[-1], 1.0)


def _halves(model: DRIT, batch: dict[str, Any]) -> tuple[torch.Tensor, ...]:
    x_a, x_b = batch["a"], batch["b"]
    n = min(x_a.size(0), x_b.size(0))
    if n < 2:
        raise UsageError(
            f"drit: training needs a batch size of at least 2 (first half: encoded attributes, second half: random "
            f"ones; the authors use 2, --batch-size 2); got {n}"
        )
    h = n // 2
    return x_a[:h], x_a[h : 2 * h], x_b[:h], x_b[h : 2 * h]


def _attr(model: DRIT, x: torch.Tensor, domain: str) -> dict[str, torch.Tensor]:
    out = model.enc_a.forward_a(x) if domain == "a" else model.enc_a.forward_b(x)
    if not model.config.concat:
        return {"z": out}
    mu, logvar = out
    return {"z": torch.randn_like(mu) * logvar.mul(0.5).exp() + mu, "mu": mu, "logvar": logvar}


def drit_forward(model: DRIT, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Their ``forward()``: every tensor the D and EG losses need, with graphs."""
    c = model.config
    a_enc, a_rand, b_enc, b_rand = _halves(model, batch)
    f: dict[str, torch.Tensor] = {"real_A_encoded": a_enc, "real_A_random": a_rand, "real_B_encoded": b_enc, "real_B_random": b_rand}
    zc_a, zc_b = model.enc_c.forward_a(a_enc), model.enc_c.forward_b(b_enc)
    at_a, at_b = _attr(model, a_enc, "a"), _attr(model, b_enc, "b")
    h = a_enc.size(0)
    z_random = torch.randn(h, c.nz, device=a_enc.device)
    contents_A, contents_B = [zc_b, zc_a, zc_b], [zc_a, zc_b, zc_a]
    attrs_A, attrs_B = [at_a["z"], at_a["z"], z_random], [at_b["z"], at_b["z"], z_random]
    if not c.no_ms:
        z_random2 = torch.randn(h, c.nz, device=a_enc.device)
        contents_A.append(zc_b), contents_B.append(zc_a), attrs_A.append(z_random2), attrs_B.append(z_random2)
        f["z_random2"] = z_random2
    fakes_A = torch.split(model.gen.forward_a(torch.cat(contents_A), torch.cat(attrs_A)), h, dim=0)
    fakes_B = torch.split(model.gen.forward_b(torch.cat(contents_B), torch.cat(attrs_B)), h, dim=0)
    for name, fa, fb in zip(("encoded", "self", "random", "random2"), fakes_A, fakes_B):
        f[f"fake_A_{name}"], f[f"fake_B_{name}"] = fa, fb
    f.update(zc_a=zc_a, zc_b=zc_b, z_random=z_random)
    f.update({f"{k}_a": v for k, v in at_a.items()})
    f.update({f"{k}_b": v for k, v in at_b.items()})
    # second cross translation
    zc_recon_b, zc_recon_a = model.enc_c.forward_a(f["fake_A_encoded"]), model.enc_c.forward_b(f["fake_B_encoded"])
    at_recon_a, at_recon_b = _attr(model, f["fake_A_encoded"], "a"), _attr(model, f["fake_B_encoded"], "b")
    f["fake_A_recon"] = model.gen.forward_a(zc_recon_a, at_recon_a["z"])
    f["fake_B_recon"] = model.gen.forward_b(zc_recon_b, at_recon_b["z"])
    return f


def _frozen_attr(model: DRIT, x: torch.Tensor, domain: str) -> torch.Tensor:
    """E_a's mean (``concat``) or code on ``x`` with detached weights: gradients reach only ``x``."""
    params = {k: v.detach() for k, v in model.enc_a.named_parameters()}
    out = functional_call(model.enc_a, params, (x,), {"domain": domain})
    return out[0] if model.config.concat else out


def _gen_losses(model: DRIT, f: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    c = model.config
    out = {
        "G_GAN_Acontent": _bce(model.disContent(f["zc_a"])[-1], 0.5),
        "G_GAN_Bcontent": _bce(model.disContent(f["zc_b"])[-1], 0.5),
        "G_GAN_A": _gen_adv(model.disA, f["fake_A_encoded"]),
        "G_GAN_B": _gen_adv(model.disB, f["fake_B_encoded"]),
        "G_L1_A": F.l1_loss(f["fake_A_recon"], f["real_A_encoded"]) * 10,
        "G_L1_B": F.l1_loss(f["fake_B_recon"], f["real_B_encoded"]) * 10,
        "G_L1_AA": F.l1_loss(f["fake_A_self"], f["real_A_encoded"]) * 10,
        "G_L1_BB": F.l1_loss(f["fake_B_self"], f["real_B_encoded"]) * 10,
        "kl_zc_a": f["zc_a"].pow(2).mean() * 0.01,
        "kl_zc_b": f["zc_b"].pow(2).mean() * 0.01,
    }
    for d in ("a", "b"):
        if c.concat:
            mu, logvar = f[f"mu_{d}"], f[f"logvar_{d}"]
            out[f"kl_za_{d}"] = torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) * (-0.5) * 0.01
        else:
            out[f"kl_za_{d}"] = f[f"z_{d}"].pow(2).mean() * 0.01
    # "G alone": random-attribute GANs, latent regression, mode seeking
    out["G_GAN2_A"] = _gen_adv(model.disA2, f["fake_A_random"])
    out["G_GAN2_B"] = _gen_adv(model.disB2, f["fake_B_random"])
    out["z_L1_a"] = torch.mean(torch.abs(_frozen_attr(model, f["fake_A_random"], "a") - f["z_random"])) * 10
    out["z_L1_b"] = torch.mean(torch.abs(_frozen_attr(model, f["fake_B_random"], "b") - f["z_random"])) * 10
    if not c.no_ms:
        out["G_GAN2_A2"] = _gen_adv(model.disA2, f["fake_A_random2"])
        out["G_GAN2_B2"] = _gen_adv(model.disB2, f["fake_B_random2"])
        dz = torch.mean(torch.abs(f["z_random2"] - f["z_random"]))
        lz_AB = torch.mean(torch.abs(f["fake_B_random2"] - f["fake_B_random"])) / dz
        lz_BA = torch.mean(torch.abs(f["fake_A_random2"] - f["fake_A_random"])) / dz
        out["lz_AB"], out["lz_BA"] = 1 / (lz_AB + 1e-5), 1 / (lz_BA + 1e-5)
    out["total"] = sum(out.values())
    return out


def drit_phase_losses(model: DRIT, phase: str, batch: dict[str, Any], shared: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Losses of one phase (see the module docstring); the forward pass of ``dis`` is reused by ``dis_content``
    and ``gen`` through the step's ``shared`` dict."""
    if phase == "dis":
        f = drit_forward(model, batch)
        shared["forward"] = f
        d = {
            "disA": _dis_loss(model.disA, f["real_A_encoded"], f["fake_A_encoded"]),
            "disB": _dis_loss(model.disB, f["real_B_encoded"], f["fake_B_encoded"]),
            "disA2": _dis_loss(model.disA2, f["real_A_random"], f["fake_A_random"]),
            "disB2": _dis_loss(model.disB2, f["real_B_random"], f["fake_B_random"]),
        }
        if not model.config.no_ms:
            d["disA2"] = d["disA2"] + _dis_loss(model.disA2, f["real_A_random"], f["fake_A_random2"])
            d["disB2"] = d["disB2"] + _dis_loss(model.disB2, f["real_B_random"], f["fake_B_random2"])
        d["total"] = sum(d.values())
        return d
    if phase == "dis_content":
        cached = shared.get("forward")
        if cached is not None:
            zc_a, zc_b = cached["zc_a"], cached["zc_b"]
        else:
            a_enc, _, b_enc, _ = _halves(model, batch)
            with torch.no_grad():
                zc_a, zc_b = model.enc_c.forward_a(a_enc), model.enc_c.forward_b(b_enc)
        loss = _content_dis_loss(model, zc_a, zc_b)
        return {"disContent": loss, "total": loss}
    if phase == "gen":
        cached = shared.pop("forward", None)
        f = cached if cached is not None else drit_forward(model, batch)
        return _gen_losses(model, f)
    raise UsageError(f"drit: unknown phase {phase!r}; expected dis, dis_content or gen")
