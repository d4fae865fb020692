"""Keep model loading off the terminal: no weight-loading reports, no download progress bars."""

from __future__ import annotations

import os


def quiet_model_loading() -> None:
    """Set (unless already set) the environment that silences transformers and huggingface_hub."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
