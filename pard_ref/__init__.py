"""pard_ref: an educational reference implementation of parallel drafting (PARD) and test-time training.

Start with the notebooks in ``notebooks/``; every mechanism they show lives in a small module here:

- :mod:`pard_ref.paths`         where data and models are stored; atomic writes and build locks
- :mod:`pard_ref.device`        CPU / GPU and dtype choice
- :mod:`pard_ref.corpus`        the offline three-domain corpus (code, math, prose) and held-out prompts
- :mod:`pard_ref.tokenizer`     the byte-level BPE tokenizer with a reserved mask token
- :mod:`pard_ref.training`      the small language-model training loop the zoo uses
- :mod:`pard_ref.unlikelihood`  unlikelihood training (token and sequence level) against greedy loops
- :mod:`pard_ref.zoo`           the tiny Llama model family (targets, drafts, arc-base) trained here
- :mod:`pard_ref.zoo_report`    the zoo's quality gate
- :mod:`pard_ref.costs`         forward cost against tokens per call; arithmetic intensity
- speculative decoding:         :mod:`~pard_ref.kv_cache`, :mod:`~pard_ref.sampling`, :mod:`~pard_ref.verify`,
                                :mod:`~pard_ref.drafting`, :mod:`~pard_ref.decoding`
- notebook helpers:             :mod:`~pard_ref.display` (coloured decoding), :mod:`~pard_ref.draft_bench`
                                (draft cost against K), :mod:`~pard_ref.plots` (PARD layout pictures)
- PARD training:                :mod:`~pard_ref.pard_layout`, :mod:`~pard_ref.pard_training`,
                                :mod:`~pard_ref.pard_zoo`, :mod:`~pard_ref.pard_bench`
- test-time training:           :mod:`pard_ref.ttt`
"""

__version__ = "0.1.0"

# --- speculative decoding engine (issue 3) ---
from .decoding import DecodingOutput, DecodingStats, SpeculativeDecoder, StepRecord, generate  # noqa: E402
from .kv_cache import crop_cache  # noqa: E402
from .sampling import probabilities  # noqa: E402
from .verify import verify_greedy, verify_sampling  # noqa: E402
# --- PARD training (issue 4) ---
from .pard_layout import build_pard_batch, cod_block_sizes, cod_keep_positions, cod_tokens_per_sequence, pard_attention_mask, pard_loss  # noqa: E402,F401
from .pard_training import train_pard, train_pard_with_log  # noqa: E402,F401
# --- test-time training (issue 6) ---
from . import ttt  # noqa: E402,F401  (cheap: the subpackage imports nothing until a module is used)

__all__ = [
    "generate", "SpeculativeDecoder", "StepRecord", "DecodingStats", "DecodingOutput",
    "verify_greedy", "verify_sampling", "probabilities", "crop_cache",
    "build_pard_batch", "cod_keep_positions", "cod_block_sizes", "cod_tokens_per_sequence",
    "pard_attention_mask", "pard_loss", "train_pard", "train_pard_with_log", "ttt",
]
