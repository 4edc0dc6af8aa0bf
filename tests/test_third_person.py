"""Third-person imitation: gradient reversal, cameras, the convolution-as-matmul encoder, domain confusion on
a toy problem, and a tiny end-to-end benchmark run."""

import dataclasses
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jirl.algorithms import third_person as tp
from jirl.envs.pixels import EXPERT_CAMERA, LEARNER_CAMERA, RECOLOURED_CAMERA, render_pairs, render_pendulum
from jirl.nets import _patches_3x3_stride2


@pytest.mark.parametrize("scale", [0.0, 0.3, 1.0, 2.5])
def test_gradient_reversal_flips_and_scales_exactly(scale):
    x = jax.random.normal(jax.random.PRNGKey(0), (5, 3))
    g = jax.random.normal(jax.random.PRNGKey(1), (5, 3))
    y, vjp = jax.vjp(tp.gradient_reversal, x, jnp.asarray(scale))
    np.testing.assert_array_equal(y, x)  # identity forward
    gx, gscale = vjp(g)
    np.testing.assert_array_equal(gx, -scale * g)  # exactly -scale times the incoming gradient
    assert float(gscale) == 0.0
    # composed with a loss under jit: d/dx sum(w * GR(x)) = -scale * w
    w = jnp.arange(15.0).reshape(5, 3)
    grad = jax.jit(jax.grad(lambda x: jnp.sum(w * tp.gradient_reversal(x, jnp.asarray(scale)))))(x)
    np.testing.assert_allclose(grad, -scale * w)


def _angles_obs(theta):
    theta = jnp.asarray(theta, jnp.float32)
    return jnp.stack([jnp.cos(theta), jnp.sin(theta), jnp.zeros_like(theta)], axis=-1)


def test_cameras_render_the_angle_and_differ():
    obs = _angles_obs([0.0, np.pi / 2, np.pi])
    frames = render_pendulum(obs, EXPERT_CAMERA)
    chex.assert_shape(frames, (3, 16, 16, 3))
    assert float(frames.min()) >= 0.0 and float(frames.max()) <= 1.0
    ink = jnp.abs(frames - jnp.asarray(EXPERT_CAMERA.background)).sum(-1)  # [3, H, W]
    rows, cols = jnp.arange(16.0)[:, None] + 0.5, jnp.arange(16.0)[None, :] + 0.5
    centroid = lambda m: (float((m * cols).sum() / m.sum()), float((m * rows).sum() / m.sum()))
    (x0, y0), (x1, y1), (x2, y2) = (centroid(ink[i]) for i in range(3))
    px, py = EXPERT_CAMERA.pivot
    assert y0 < py - 2 and abs(x0 - px) < 1  # upright: above the pivot
    assert x1 > px + 2 and abs(y1 - py) < 1  # horizontal
    assert y2 > py + 2 and abs(x2 - px) < 1  # hanging down
    other = render_pendulum(obs, LEARNER_CAMERA)
    assert float(jnp.abs(other - frames).mean()) > 0.3  # a different domain
    # the recoloured view: same geometry (same ink), other colours
    recoloured = render_pendulum(obs, RECOLOURED_CAMERA)
    ink_r = jnp.abs(recoloured - jnp.asarray(RECOLOURED_CAMERA.background)).sum(-1)
    assert float(jnp.abs(recoloured - frames).mean()) > 0.3
    for i in range(3):
        assert np.allclose(centroid(ink_r[i]), centroid(ink[i]), atol=1.0)
    clips = render_pairs(obs, obs[::-1], EXPERT_CAMERA)
    chex.assert_shape(clips, (3, 2, 16, 16, 3))
    np.testing.assert_allclose(clips[:, 0], frames)
    np.testing.assert_allclose(clips[:, 1], frames[::-1])


@pytest.mark.parametrize("size", [16, 7])
def test_patch_matmul_is_a_stride2_convolution(size):
    x = jax.random.normal(jax.random.PRNGKey(0), (2, size, size, 3))
    k = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 5))
    ref = jax.lax.conv_general_dilated(x, k, (2, 2), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_allclose(_patches_3x3_stride2(x) @ k.reshape(27, 5), ref, rtol=1e-5, atol=1e-5)


# --- domain confusion on a toy problem ------------------------------------------------------------------------
# 4x4 one-channel "frames": z0 * (left half) + z1 * (top half) + domain * (everything), plus noise. Behaviour
# ("expert") is z0 > 0; the domain is a brightness offset. Domain A holds experts and non-experts, domain B
# (the "learner") everything.

_LEFT = jnp.zeros((4, 4)).at[:, :2].set(1.0)
_TOP = jnp.zeros((4, 4)).at[:2, :].set(1.0)


def _toy_clips(key, n, domain, sign):
    kz, kn = jax.random.split(key)
    z = jax.random.normal(kz, (n, 2))
    if sign != 0:
        z = z.at[:, 0].set(sign * jnp.abs(z[:, 0]) + sign * 0.3)
    img = z[:, 0, None, None] * _LEFT + z[:, 1, None, None] * _TOP + 1.5 * domain + 0.1 * jax.random.normal(kn, (n, 4, 4))
    img = img[..., None]
    return jnp.stack([img, img], axis=1)  # [n, 2, 4, 4, 1]


def _toy_pools(key, n=2048):
    ke, kn, kl = jax.random.split(key, 3)
    return {"clips": _toy_clips(ke, n, 0.0, +1)}, {"learner": _toy_clips(kl, n, 1.0, -1), "nonexpert": _toy_clips(kn, n, 0.0, -1)}


def _probe_accuracy(feats_a, feats_b, key, steps=400):
    """Accuracy of a fresh logistic-regression probe (trained on half, tested on the other half) at telling
    domain A features from domain B features."""
    x = jnp.concatenate([feats_a, feats_b])
    y = jnp.concatenate([jnp.ones(len(feats_a)), jnp.zeros(len(feats_b))])
    perm = jax.random.permutation(key, len(x))
    x, y = x[perm], y[perm]
    half = len(x) // 2
    mu, sd = x[:half].mean(0), x[:half].std(0) + 1e-6
    x = (x - mu) / sd
    params = {"w": jnp.zeros(x.shape[1]), "b": jnp.zeros(())}
    opt = optax.adam(0.05)

    def loss(p):
        return jnp.mean(optax.sigmoid_binary_cross_entropy(x[:half] @ p["w"] + p["b"], y[:half]))

    def step(carry, _):
        p, s = carry
        g = jax.grad(loss)(p)
        u, s = opt.update(g, s)
        return (optax.apply_updates(p, u), s), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    pred = (x[half:] @ params["w"] + params["b"]) > 0
    return float(jnp.mean(pred == (y[half:] > 0.5)))


def _train_toy(domain_confusion):
    """Train on the toy pools; return (trained domain head's accuracy, fresh linear probe's accuracy) on held-out
    same-behaviour frames of the two domains (A non-expert vs B learner), and the behaviour head's accuracy."""
    cfg = tp.ThirdPersonConfig(
        channels=(8,),
        features=8,
        normalize_frames=False,  # the toy's domain is a brightness offset, which normalization would remove
        hidden=(16,),
        domain_hidden=(16,),
        domain_confusion=domain_confusion,
        batch_size=128,
        grad_penalty=0.0,
        learning_rate=3e-4,
    )
    state = tp.init(cfg, jax.random.PRNGKey(0), (4, 4, 1))
    expert, others = _toy_pools(jax.random.PRNGKey(1))
    state, _ = jax.jit(lambda s, k: tp.train_steps(cfg, s, expert, others, k, 3000))(state, jax.random.PRNGKey(2))
    test_e, test_o = _toy_pools(jax.random.PRNGKey(3), 1024)
    feats = lambda c: tp.features(cfg, state.params, c[:, 0])
    f_a, f_b = feats(test_o["nonexpert"]), feats(test_o["learner"])
    head = 0.5 * (float(jnp.mean(tp.domain_logits(cfg, state.params, f_a) > 0)) + float(jnp.mean(tp.domain_logits(cfg, state.params, f_b) < 0)))
    probe = _probe_accuracy(f_a, f_b, jax.random.PRNGKey(4))
    le = tp.behaviour_logits(cfg, state.params, test_e["clips"])
    ln = tp.behaviour_logits(cfg, state.params, test_o["nonexpert"])
    behaviour_acc = 0.5 * (float(jnp.mean(le > 0)) + float(jnp.mean(ln < 0)))
    return head, probe, behaviour_acc


def test_domain_classifier_is_at_chance_after_domain_confusion():
    head, probe, behaviour_acc = _train_toy(domain_confusion=10.0)
    assert abs(head - 0.5) < 0.1, f"the domain classifier still tells the domains apart ({head:.2f})"
    assert behaviour_acc > 0.9, f"expert vs non-expert is lost ({behaviour_acc:.2f})"
    head_plain, probe_plain, _ = _train_toy(domain_confusion=0.0)
    assert head_plain > 0.9, f"without domain confusion the domain classifier should succeed ({head_plain:.2f})"
    # Adversarial removal is incomplete: a *fresh* linear probe still decodes the domain from the confused
    # features (0.95 measured; Elazar & Goldberg 2018 report the same for text). Record it, do not hide it.
    assert probe_plain > 0.9


def test_loss_metrics_and_reward_shapes():
    cfg = tp.ThirdPersonConfig(batch_size=8)
    state = tp.init(cfg, jax.random.PRNGKey(0), (16, 16, 3))
    obs = _angles_obs(jnp.linspace(-3, 3, 8))
    clips = render_pairs(obs, obs, EXPERT_CAMERA)
    total, m = tp.loss(cfg, state.params, {"clips": clips}, {"learner": clips, "nonexpert": clips}, jax.random.PRNGKey(1))
    assert jnp.isfinite(total)
    assert set(tp.metric_names()) <= set(m)
    chex.assert_shape(tp.reward(cfg, state.params, clips), (8,))
    with pytest.raises(AssertionError):
        tp.loss(cfg, state.params, {"clips": clips}, {"learner": clips[:4], "nonexpert": clips[:4]}, jax.random.PRNGKey(1))
    # gail reward = softplus(logit) >= 0
    assert float(tp.reward(dataclasses.replace(cfg, reward="gail"), state.params, clips).min()) >= 0.0
    # the variants: domain classifier on non-expert frames only; own-state decoding of the learner's frames
    others = {"learner": clips, "nonexpert": clips, "learner_obs": obs}
    cfg2 = dataclasses.replace(cfg, domain_frames="nonexpert", own_state_coef=1.0)
    total2, m2 = tp.loss(cfg2, state.params, {"clips": clips}, others, jax.random.PRNGKey(1))
    assert jnp.isfinite(total2) and float(m2["own_state_loss"]) > 0.0 and float(m["own_state_loss"]) == 0.0
    grads = jax.grad(lambda p: tp.loss(cfg2, p, {"clips": clips}, others, jax.random.PRNGKey(1))[0])(state.params)
    assert float(jnp.abs(grads["own_state"]["params"]["kernel"]).sum()) > 0.0


# --- the benchmark script -----------------------------------------------------------------------------------


def test_third_person_script_tiny_run(run_script, tmp_path):
    out = tmp_path / "tp"
    args = ["--out-dir", out, "--settings", "cross-domain", "third-person", "--seeds", "0",
            "--run.total-steps", "700", "--run.learning-starts", "300", "--run.eval-every", "350",
            "--run.eval-episodes", "2", "--run.num-demos", "4", "--run.nonexpert-episodes", "4"]  # fmt: skip
    res = run_script("third_person.py", *args)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(summary["settings"]) == {"cross-domain", "third-person"}
    assert (out / "third_person.png").stat().st_size > 0
    table = (out / "table.md").read_text()
    assert "| cross-domain |" in table and "| third-person |" in table
    for setting in ("cross-domain", "third-person"):
        rows = [json.loads(line) for line in (out / f"{setting}-s0" / "metrics.jsonl").read_text().splitlines()]
        # the behaviour head already tells expert clips from random-action clips of the same camera
        assert rows[-1]["disc_acc_nonexpert"] > 0.7 and rows[-1]["disc_acc_expert"] > 0.6, rows[-1]
    # rerunning skips the finished runs and only rebuilds the table
    again = run_script("third_person.py", *args)
    assert again.returncode == 0 and "==" not in again.stdout


def test_third_person_script_bad_input(run_script, tmp_path):
    res = run_script("third_person.py", "--out-dir", tmp_path / "x", "--run.tp.domain-confusion", "0")
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error:") and "domain-confusion" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x").exists()
    res = run_script(
        "third_person.py", "--out-dir", tmp_path / "y", "--run.demos", tmp_path / "missing.npz", "--seeds", "0", "--settings", "same-domain"
    )
    assert res.returncode == 2 and res.stderr.strip().startswith("error:") and "Traceback" not in res.stderr


def test_probe_script_same_vs_cross_domain(run_script):
    res = run_script("third_person_probe.py", "--settings", "same-domain", "cross-domain", "--steps", "300", "--episodes", "3", "--test-clips", "300")
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])["probe"]
    # in its own camera the discriminator's reward ranks expert clips above random ones ...
    assert out["same-domain"]["reward_auc"] > 0.8, out
    assert out["same-domain"]["domain_leak_auc"] == 0.5  # same camera: nothing to leak
    # ... and across cameras the behaviour head sees the viewpoint (what third-person imitation must remove)
    assert out["cross-domain"]["domain_leak_auc"] > 0.9, out
