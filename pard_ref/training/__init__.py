"""Training: the language-model loop every zoo model uses (:mod:`~pard_ref.training.lm`), unlikelihood
training against greedy loops (:mod:`~pard_ref.training.unlikelihood`), PARD's training layout and COD
(:mod:`~pard_ref.training.pard_layout`), and adapting an AR draft into a parallel draft
(:mod:`~pard_ref.training.pard_training`)."""
