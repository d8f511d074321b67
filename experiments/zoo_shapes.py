"""Scratch measurement behind docs/zoo.md: one-token / five-token forward time (KV cache) and training
tokens/s of randomly initialised Llamas of several depths and widths (vocabulary 2048), in one process.

    OMP_NUM_THREADS=2 python experiments/zoo_shapes.py
"""
import time, torch
from transformers import LlamaConfig, LlamaForCausalLM, DynamicCache
torch.manual_seed(0)
torch.set_num_threads(2)
V=2048
def mk(h, l, inter=None, heads=None):
    heads = heads or max(2, h//32)
    cfg = LlamaConfig(vocab_size=V, hidden_size=h, num_hidden_layers=l, num_attention_heads=heads, num_key_value_heads=heads,
                      intermediate_size=inter or int(h*8/3)//16*16, max_position_embeddings=1024, tie_word_embeddings=True)
    return LlamaForCausalLM(cfg).eval()
@torch.no_grad()
def infer_ms(m, n_new=1, reps=60):
    x = torch.randint(4, V, (1, 100))
    c = DynamicCache()
    m(input_ids=x, past_key_values=c, use_cache=True)
    y = torch.randint(4, V, (1, n_new))
    ts=[]
    for i in range(reps):
        t=time.perf_counter(); m(input_ids=y, past_key_values=c, use_cache=True); ts.append(time.perf_counter()-t)
        c.crop(-n_new)
    ts.sort(); return 1000*ts[len(ts)//2]
def train_tps(m, B=16, L=128, steps=6):
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m.train()
    x = torch.randint(4, V, (B, L))
    for i in range(steps+2):
        if i==2: t=time.perf_counter()
        loss = m(input_ids=x, labels=x).loss; opt.zero_grad(); loss.backward(); opt.step()
    m.eval()
    return B*L*steps/(time.perf_counter()-t)
for h,l in [(64,1),(96,1),(128,1),(128,2),(128,4),(160,4),(192,4),(192,6),(128,8),(192,8),(256,8),(192,12),(256,12)]:
    m = mk(h,l)
    n = sum(p.numel() for p in m.parameters()); ne = n - V*h
    print(f"h={h:3d} l={l:2d} params={n/1e6:5.2f}M nonemb={ne/1e6:5.2f}M  1tok={infer_ms(m):6.2f}ms 5tok={infer_ms(m,5):6.2f}ms  train={train_tps(m):7.0f} tok/s", flush=True)
