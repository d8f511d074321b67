"""Measurement: what a forward costs (:mod:`~pard_ref.bench.costs`), what drafting costs against K
(:mod:`~pard_ref.bench.drafting_cost`), a few methods timed side by side for the notebooks
(:mod:`~pard_ref.bench.compare`), the end-to-end decoding benchmark (:mod:`~pard_ref.bench.decoding`, its methods in
:mod:`~pard_ref.bench.methods`, its reading in :mod:`~pard_ref.bench.report` and :mod:`~pard_ref.bench.plots`),
when speculative decoding stops paying (:mod:`~pard_ref.bench.limits`), and the COD training experiment
(:mod:`~pard_ref.bench.cod`, the ``train-bench`` command)."""
