"""Pictures for the notebooks: accepted / rejected / bonus tokens as HTML (:mod:`~pard_ref.viz.display`), the
shared figures: the PARD layout, COD, acceptance by position, agreement (:mod:`~pard_ref.viz.plots`), both KV caches
through an iteration (:mod:`~pard_ref.viz.caches`), a live run beside the committed full result
(:mod:`~pard_ref.viz.reference`), and the family's losses on a text you type (:mod:`~pard_ref.viz.family_loss`)."""
