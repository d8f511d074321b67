"""Pictures for the notebooks: accepted / rejected / bonus tokens as HTML (:mod:`~pard_ref.viz.display`)
and the shared figures: the PARD layout, COD, acceptance by position, agreement (:mod:`~pard_ref.viz.plots`)."""
