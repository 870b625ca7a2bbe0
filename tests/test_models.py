import dataclasses
import json

import pytest
import torch
from safetensors.torch import save as st_save
from torch.nn import functional as F

from aigc.checkpoint import FORMAT, load_model, to_bytes
from aigc.models import GAN, VAE, Classifier, ClassifierConfig, GANConfig, VAEConfig
from aigc.models.gan import UPSAMPLERS
from aigc.models.vae import vae_loss


def build(cls, cfg, seed=0):
    torch.manual_seed(seed)
    return cls(cfg).eval()


@pytest.mark.parametrize("upsample", UPSAMPLERS)
@pytest.mark.parametrize("k", [0, 10])
def test_gan_shapes_range_and_determinism(k, upsample):
    gan = build(GAN, GANConfig(num_classes=k, upsample=upsample))
    z = torch.randn(5, gan.latent_dim, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(5) if k else None
    x = gan.decode(z, labels)
    assert x.shape == (5, 1, 28, 28)
    assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    assert torch.equal(x, build(GAN, GANConfig(num_classes=k, upsample=upsample)).decode(z, labels))
    real = gan.realness(x, labels)
    assert real.shape == (5,) and ((real >= 0) & (real <= 1)).all()


def test_a_gan_file_from_before_upsample_still_draws_what_its_transposed_convolutions_compute():
    torch.manual_seed(0)
    config = dataclasses.asdict(GANConfig())
    del config["upsample"]  # as the files shipped before the field existed
    tensors = GAN(GANConfig()).state_dict()
    meta = {"format": FORMAT, "kind": "gan", "config": json.dumps(config), "provenance": "{}"}
    gan, _ = load_model(st_save(tensors, metadata=meta))
    assert gan.config.upsample == "transposed"
    z = torch.randn(6, gan.latent_dim, generator=torch.Generator().manual_seed(2))
    labels = torch.arange(6)
    w = gan.generator.state_dict()
    h = gan.generator.hidden(z, labels).view(6, -1, 7, 7)
    h = F.conv_transpose2d(h, w["up.0.weight"], w["up.0.bias"], 2, 1)
    bn = (w["up.1.running_mean"], w["up.1.running_var"], w["up.1.weight"], w["up.1.bias"])
    x = torch.sigmoid(
        F.conv_transpose2d(F.relu(F.batch_norm(h, *bn)), w["up.3.weight"], w["up.3.bias"], 2, 1)
    )
    assert torch.equal(gan.decode(z, labels), x)


def test_nearest_upsampling_is_nearest_upsample_then_a_3x3_conv():
    torch.manual_seed(0)
    layer = GAN(GANConfig(upsample="nearest")).generator.up[0]
    x = torch.randn(2, layer.weight.shape[1], 7, 7)
    upsampled = F.interpolate(x, scale_factor=2, mode="nearest")
    expected = F.conv2d(upsampled, layer.weight, layer.bias, padding=1)
    assert torch.allclose(layer(x), expected, atol=1e-5)
    with pytest.raises(ValueError, match="unknown upsample"):
        GAN(GANConfig(upsample="bilinear"))


def test_gan_blends_classes_with_weights():
    gan = build(GAN, GANConfig())
    z = torch.randn(1, gan.latent_dim)
    onehot = torch.nn.functional.one_hot(torch.tensor([3]), 10).float()
    assert torch.allclose(gan.decode(z, torch.tensor([3])), gan.decode(z, onehot))
    blend = 0.5 * onehot + 0.5 * torch.nn.functional.one_hot(torch.tensor([8]), 10).float()
    assert not torch.allclose(gan.decode(z, blend), gan.decode(z, onehot))


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("k", [0, 10])
@pytest.mark.parametrize("activation", ["relu", "silu"])
def test_vae_speaks_its_math(arch, k, activation):
    vae = build(VAE, VAEConfig(arch=arch, num_classes=k, z_dim=4, activation=activation))
    x = torch.rand(3, 1, 28, 28)
    labels = torch.tensor([1, 2, 3]) if k else None
    mu, logvar = vae.encode(x, labels)
    assert mu.shape == logvar.shape == (3, 4)
    g = torch.Generator().manual_seed(0)
    z = vae.reparameterize(mu, logvar, generator=g)
    assert torch.equal(
        z, vae.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    )
    out = vae.decode(z, labels)
    assert out.shape == (3, 1, 28, 28) and out.min() >= 0 and out.max() <= 1
    recon, kl = vae_loss(vae.decode_logits(z, labels), x, mu, logvar)
    assert recon > 0 and kl >= 0


def test_vae_rejects_unknown_arch_and_activation():
    with pytest.raises(ValueError, match="unknown VAE arch"):
        VAE(VAEConfig(arch="transformer"))
    with pytest.raises(ValueError, match="unknown VAE activation"):
        VAE(VAEConfig(activation="tanh"))


def test_vae_kl_is_zero_at_the_prior():
    mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    _, kl = vae_loss(torch.zeros(2, 1, 28, 28), torch.full((2, 1, 28, 28), 0.5), mu, logvar)
    assert kl.item() == pytest.approx(0.0)


def test_output_bias_starts_the_vae_at_the_mean_image():
    vae = build(VAE, VAEConfig(z_dim=2))
    mean = torch.rand(1, 28, 28) * 0.8 + 0.1
    with torch.no_grad():
        for p in vae.dec_fc[-1].parameters():
            p.zero_()
    vae.start_at_mean(mean)
    out = vae.decode(torch.zeros(1, 2))[0]
    assert torch.allclose(out, mean, atol=1e-4)


def test_a_centred_vae_encodes_its_input_minus_the_mean_image_and_keeps_it_in_its_file():
    mean = torch.rand(1, 28, 28)
    x = torch.rand(3, 1, 28, 28)
    centred = build(VAE, VAEConfig(center_input=True))
    centred.start_at_mean(mean)
    plain = build(VAE, VAEConfig())
    assert torch.allclose(centred.encode(x)[0], plain.encode(x - mean)[0], atol=1e-6)
    reloaded, _ = load_model(to_bytes(centred))
    assert torch.equal(reloaded.encode(x)[0], centred.encode(x)[0])


def test_classifier_features_and_logits():
    clf = build(Classifier, ClassifierConfig())
    x = torch.rand(4, 1, 28, 28)
    assert clf(x).shape == (4, 10)
    assert clf.features(x).shape == (4, clf.config.features)
