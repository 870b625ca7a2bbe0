"""Latent-space playground: small GANs and VAEs that learn in seconds on a CPU.

The core package never imports streamlit; the page lives in :mod:`aigc.ui` and only calls in.
"""

__version__ = "0.1.0"
