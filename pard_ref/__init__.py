"""pard_ref: an educational reference implementation of parallel drafting (PARD) and test-time training.

Subpackages by mechanism, each importing only the ones below it (README "Read the code" has the order):

- :mod:`pard_ref.decoding`  speculative decoding: the loop, AR and PARD drafters, verification, KV rollback
- :mod:`pard_ref.text`      the offline corpus and the tokenizer with a reserved mask token
- :mod:`pard_ref.training`  the LM training loop, unlikelihood, PARD's training layout with COD, PARD training
- :mod:`pard_ref.zoo`       the tiny Llama family trained here: recipes, cached builds, the quality gate
- :mod:`pard_ref.bench`     measurement: forward and drafting costs, the decoding benchmark, the COD experiment
- :mod:`pard_ref.viz`       pictures for the notebooks
- :mod:`pard_ref.ttt`       test-time training for ARC-style tasks
- :mod:`pard_ref.checkpoints`, :mod:`pard_ref.demo`, :mod:`pard_ref.cli`: your own checkpoints, the demo,
  the command line; :mod:`pard_ref.paths`, :mod:`pard_ref.device`, :mod:`pard_ref.scale`: where files go,
  which device and dtype, which scale.
"""

__version__ = "0.1.0"

from . import ttt  # noqa: E402,F401  (registers arc-base with the zoo)
from .decoding import DecodingOutput, DecodingStats, SpeculativeDecoder, StepRecord, generate  # noqa: E402
from .decoding.kv_cache import crop_cache  # noqa: E402
from .decoding.sampling import probabilities  # noqa: E402
from .decoding.verify import verify_greedy, verify_sampling  # noqa: E402
from .training.pard_layout import (build_pard_batch, cod_block_sizes, cod_keep_positions,  # noqa: E402
                                   cod_tokens_per_sequence, pard_attention_mask, pard_loss)
from .training.pard_training import train_pard, train_pard_with_log  # noqa: E402

__all__ = [
    "generate", "SpeculativeDecoder", "StepRecord", "DecodingStats", "DecodingOutput",
    "verify_greedy", "verify_sampling", "probabilities", "crop_cache",
    "build_pard_batch", "cod_keep_positions", "cod_block_sizes", "cod_tokens_per_sequence",
    "pard_attention_mask", "pard_loss", "train_pard", "train_pard_with_log", "ttt",
]
