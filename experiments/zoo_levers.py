"""Scratch runs behind docs/zoo.md "The recipe, and what each lever bought" (held-out loss after N steps).

Each argument is one run as JSON: h (width), l (layers), lr, steps, bs (batch of 128-token windows),
optional init, wu (warm-up steps), seed, inter (MLP width), resid (scale residual projections by
1/sqrt(2l)). Prints held-out loss per domain (first 8192 tokens) and the mean. Example (the runs in
docs/zoo.md):

    python experiments/zoo_levers.py '{"h":128,"l":1,"lr":4e-3,"steps":1000,"bs":4,"wu":100}' \
        '{"h":160,"l":5,"lr":3e-3,"steps":1000,"bs":4,"wu":100}' '{"h":192,"l":8,"lr":2e-3,"steps":1000,"bs":4,"wu":100}'

The figures in docs/zoo.md were measured with corpus version 1 and mixture code 0.4 / math 0.35 /
prose 0.25; the current corpus and mixture give somewhat different absolute numbers.
"""
import sys, time, torch, json
from pard_ref import zoo
from pard_ref.text import corpus, tokenizer as T
from pard_ref.training.lm import TrainConfig, lm_batches, train, heldout_loss, token_stream
from transformers import LlamaForCausalLM
torch.set_num_threads(1)
tok = T.load(); streams = zoo.train_streams(tok)
held = {d: token_stream(tok, d, "heldout") for d in corpus.DOMAINS}
def run(h, l, lr, steps, bs, init=0.02, wu=25, seed=0, inter=None, resid=False):
    arch = zoo.Arch(hidden=h, layers=l, heads=h//32, intermediate=inter or (h*5//2)//32*32)
    cfg = arch.llama_config(tok); cfg.initializer_range = init
    torch.manual_seed(seed); m = LlamaForCausalLM(cfg)
    if resid:
        with torch.no_grad():
            for layer in m.model.layers:
                layer.self_attn.o_proj.weight.mul_((2*l)**-0.5); layer.mlp.down_proj.weight.mul_((2*l)**-0.5)
    t=time.time()
    train(m, lm_batches(streams, dict(zoo.Recipe(steps=1).mixture), bs, 128, seed), TrainConfig(steps=steps, lr=lr, warmup_steps=wu), progress=False)
    L = {d: round(heldout_loss(m, held[d], 128, max_tokens=8192), 3) for d in corpus.DOMAINS}
    print(f"h={h} l={l} lr={lr} steps={steps} bs={bs} init={init}: {L} mean={sum(L.values())/3:.3f} {time.time()-t:.0f}s", flush=True)
for spec in sys.argv[1:]:
    run(**json.loads(spec))
