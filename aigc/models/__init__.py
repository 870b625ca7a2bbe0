"""Model classes by kind; a checkpoint names its kind and carries its config."""

from aigc.models.classifier import Classifier, ClassifierConfig
from aigc.models.gan import GAN, GANConfig
from aigc.models.vae import VAE, VAEConfig

KINDS: dict[str, tuple[type, type]] = {
    "gan": (GANConfig, GAN),
    "vae": (VAEConfig, VAE),
    "classifier": (ClassifierConfig, Classifier),
}

__all__ = ["GAN", "VAE", "KINDS", "Classifier", "ClassifierConfig", "GANConfig", "VAEConfig"]
