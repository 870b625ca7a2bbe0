import io

import numpy as np
import pytest
import torch
from PIL import Image

from aigc.imaging import ImageInputError, gif_bytes, grid, open_upload, prepare_digit
from aigc.latent import (
    _pca,
    class_vectors,
    generate,
    latent_for_seed,
    lerp,
    path,
    principal_directions,
    rejection_sample,
    sample_latents,
    slerp,
)
from aigc.models import GAN, VAE, GANConfig, VAEConfig


@pytest.fixture(scope="module")
def gan():
    torch.manual_seed(0)
    return GAN(GANConfig()).eval()


def test_seeds_name_points():
    assert torch.equal(latent_for_seed(7, 16), latent_for_seed(7, 16))
    assert not torch.equal(latent_for_seed(7, 16), latent_for_seed(8, 16))
    assert torch.equal(sample_latents(3, 16, 7)[0], latent_for_seed(7, 16))


def test_slerp_hits_endpoints_and_keeps_the_norm():
    a, b = latent_for_seed(1, 64), latent_for_seed(2, 64)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    mid_s, mid_l = slerp(a, b, 0.5), lerp(a, b, 0.5)
    expected = (a.norm() + b.norm()) / 2
    assert abs(mid_s.norm() - expected) / expected < 0.05
    assert mid_l.norm() < 0.85 * expected  # lerp's midpoint sinks inside the Gaussian shell


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    a = torch.ones(4)
    assert torch.allclose(slerp(a, 2 * a, 0.5), 1.5 * a)


def test_path_through_several_points():
    pts = torch.stack([latent_for_seed(s, 8) for s in (1, 2, 3)])
    zs = path(pts, steps=5, spherical=True)
    assert zs.shape == (9, 8)
    assert torch.allclose(zs[0], pts[0], atol=1e-5)
    assert torch.allclose(zs[4], pts[1], atol=1e-5)
    assert torch.allclose(zs[-1], pts[2], atol=1e-5)
    with pytest.raises(ValueError):
        path(pts[:1], 5)


def test_generate_refuses_a_model_in_training_mode(gan):
    with pytest.raises(ValueError, match="eval"):
        generate(GAN(GANConfig()).train(), torch.zeros(1, 32), torch.tensor([1]))
    assert generate(gan, torch.zeros(2, 32), torch.tensor(3)).shape == (2, 1, 28, 28)


def test_gan_principal_directions(gan):
    d = principal_directions(gan, k=4, n=500)
    assert d.vectors.shape == (4, gan.latent_dim)
    assert torch.allclose(d.vectors.norm(dim=1), torch.ones(4), atol=1e-5)
    assert np.all(np.diff(d.variance_ratio) <= 1e-9) and 0 < d.variance_ratio.sum() <= 1


def test_vae_directions_and_class_vectors(small_mnist):
    vae = VAE(VAEConfig(z_dim=8)).eval()
    x, y = small_mnist.tensors()
    d = principal_directions(vae, k=3, data=x)
    assert d.vectors.shape == (3, 8)
    v = class_vectors(vae, x, y)
    assert v.shape == (10, 8)
    counts = torch.bincount(y, minlength=10).float()
    assert torch.allclose(counts @ v, torch.zeros(8), atol=1e-3)  # offsets from the overall mean
    cvae = VAE(VAEConfig(z_dim=8, num_classes=10)).eval()
    assert principal_directions(cvae, k=3, data=x, labels=y).vectors.shape == (3, 8)


def test_rejection_sampling_accounts_for_every_try(gan):
    judged = rejection_sample(gan, wanted=10, threshold=0.5, seed=1, label=3, max_tries=256)
    assert len(judged.accepted) + len(judged.rejected) == judged.tries
    assert (judged.accepted_scores >= 0.5).all() and (judged.rejected_scores < 0.5).all()
    assert judged.acceptance_rate == len(judged.accepted) / judged.tries
    none = rejection_sample(gan, wanted=5, threshold=1.01, seed=1, max_tries=64)
    assert len(none.accepted) == 0 and none.tries == 64 and none.acceptance_rate == 0


def test_grid_and_gif():
    frames = np.stack([np.full((28, 28), 40 * i, np.uint8) for i in range(5)])
    g = grid(frames, cols=5, pad=2)
    assert g.shape == (32, 152)
    gif = Image.open(io.BytesIO(gif_bytes(frames, scale=2)))
    assert gif.format == "GIF" and gif.n_frames == 8 and gif.size == (56, 56)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_a_photo_of_a_digit_is_centred_and_inverted_like_mnist():
    photo = Image.new("L", (300, 200), 240)  # light paper
    photo.paste(30, (40, 20, 80, 180))  # a dark vertical stroke, far off centre
    a = prepare_digit(open_upload(_png(photo), "photo.png"))
    assert a.shape == (28, 28) and a.dtype == np.float32
    assert a[0].max() == 0 and a.max() > 0.9  # ink bright on a dark background
    ys, xs = np.indices(a.shape)
    cy, cx = (ys * a).sum() / a.sum(), (xs * a).sum() / a.sum()
    assert abs(cy - 14) < 1.5 and abs(cx - 14) < 1.5
    assert 18 <= (a.sum(1) > 0.1).sum() <= 21  # the long side fits 20 px, as in MNIST


def test_upload_refuses_non_images_and_spoofed_formats():
    """Each refusal has an English line (the CLI's) and a code (the page's plain words)."""
    buf = io.BytesIO()
    Image.new("L", (10, 10)).save(buf, format="TIFF")
    for data, line, code in (
        (b"", "empty", "file_empty"),
        (b"%PDF-1.4 fake", "not a PNG or JPEG", "image_not_png_jpeg"),
        (buf.getvalue(), "not a PNG or JPEG", "image_not_png_jpeg"),
        (_png(Image.effect_noise((64, 64), 50))[:200], "damaged or truncated", "image_damaged"),
    ):
        with pytest.raises(ImageInputError, match=line) as info:
            open_upload(data, "x.png")
        assert info.value.code == code and str(info.value).startswith("x.png: ")


def test_fast_pca_finds_the_axes_a_full_svd_finds():
    """The page's sliders come from a randomized PCA: on data with a clear spectrum it must
    return the same top axes and variance shares as an exact SVD."""
    gen = torch.Generator().manual_seed(0)
    basis, _ = torch.linalg.qr(torch.randn(300, 300, generator=gen))
    scales = torch.logspace(1, -1, 300)
    x = (torch.randn(800, 300, generator=gen) * scales) @ basis.T
    centred, axes, ratio = _pca(x, 5)
    _, s, vt = torch.linalg.svd(centred, full_matrices=False)
    assert (axes @ vt[:5].T).diagonal().abs().min() > 0.999
    assert np.allclose(ratio, (s[:5] ** 2 / (s**2).sum()).numpy(), rtol=1e-3)
