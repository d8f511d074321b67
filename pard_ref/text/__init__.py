"""Text: the offline three-domain corpus (:mod:`~pard_ref.text.corpus`) and the byte-level BPE tokenizer
with a reserved mask token (:mod:`~pard_ref.text.tokenizer`)."""
