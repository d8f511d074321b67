"""Solutions to notebook 01's exercises (one value or function per exercise, a plausible wrong answer the
checker must reject, and the checker's context as small synthetic figures). Not imported by the notebook.

In the notebook the answers are expressions on its measurements:
  answer_2 = TAU * (overhead + per_token) - (overhead + (K + 1) * per_token)   with the fitted line of target-l
  answer_4 = {label: TAU_PARD * c[1] / c[K_PARD + 1] for label, c in side.items()}
"""

ex_1 = 2 * 8 / 2      # 2 FLOPs per weight per token, 8 tokens, 2 bytes per bfloat16 weight
wrong_1 = 2 * 8 / 4   # the float32 figure


def context_2():
    return {"overhead": 2.0, "per_token": 0.15, "k": 4, "tau": 2.5}


def _t(n, c=None):
    c = c or context_2()
    return c["overhead"] + n * c["per_token"]


ex_2 = 2.5 * _t(1) - _t(5)            # τ tokens at t(1) each, against one t(K+1) verification + drafting
wrong_2 = (2.5 - 1) * _t(1) - _t(5)   # counts the accepted proposals only, forgetting the bonus

ex_3 = ("Attention grows: each new token attends to every key and value in the KV cache, so a longer prompt "
        "means more cache to read per call; the per-call overhead stays the same.")
wrong_3 = "The per-call overhead grows with the prompt, because Python has more to do."


def context_4():
    return {"costs": {"zoo fp32": {1: 3.0, 9: 4.7}, "zoo bf16": {1: 3.4, 9: 5.0},
                      "smol fp32": {1: 59.5, 9: 122.2}, "smol bf16": {1: 53.6, 9: 65.7}},
            "tau": 2.22, "k": 8}


ex_4 = {label: context_4()["tau"] * c[1] / c[9] for label, c in context_4()["costs"].items()}
wrong_4 = {label: c[1] / c[9] for label, c in context_4()["costs"].items()}  # leaves out τ
