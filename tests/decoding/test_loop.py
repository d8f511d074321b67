"""The decoding engine: greedy speculative decoding is token-identical to plain greedy decoding.

Tiny random float64 Llamas (float64: a (K+1)-token forward and a 1-token forward round alike, so no
near-tie can flip). To see every acceptance pattern we use three kinds of draft:

- an unrelated random model (proposals mostly rejected: n = 0),
- the target itself as an AR draft (everything accepted: n = K),
- a *scripted* draft that knows the target's greedy continuation and is wrong at chosen positions,
  mask tokens included, so PARD also gets full and partial acceptance.
"""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

import pard_ref
from pard_ref import SpeculativeDecoder, crop_cache, generate
from pard_ref.decoding.drafting import ARDrafter, ParallelDrafter
from pard_ref.decoding.kv_cache import cache_length, model_forward, new_cache
from pard_ref.decoding.timing import ForwardClock

VOCAB = 64
MASK = VOCAB - 1  # reserved: never in prompts



def tiny_llama(seed, layers=2, hidden=32, vocab=VOCAB, max_positions=128, cls=LlamaForCausalLM):
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )
    model = cls(config).to(torch.float64).eval()
    with torch.no_grad():  # sharper distributions than the 0.02-std init: greedy paths less repetitive
        model.lm_head.weight.mul_(20.0)
    return model


@torch.no_grad()
def greedy_reference(model, prompt, n):
    """Plain greedy decoding WITHOUT a cache (re-feeds everything): an independent reference."""
    seq = prompt
    for _ in range(n):
        token = model(input_ids=seq).logits[:, -1].argmax(-1, keepdim=True)
        seq = torch.cat((seq, token), dim=1)
    return seq


class ScriptedDraft(LlamaForCausalLM):
    """Test-only draft that reads its predictions from a script.

    It runs the real Llama forward (so its KV cache is genuinely extended and cropped), then replaces
    the logits: the row at absolute position t predicts ``script[t + 1]``, or a wrong token where
    ``wrong[t + 1]`` is set, whatever the input token at t is (a mask included). With the target's
    greedy continuation as the script this is a draft of known quality for both AR and PARD.
    """

    def set_script(self, script, wrong):
        self.script, self.wrong = script, wrong

    def forward(self, input_ids=None, position_ids=None, cache=None, logits_to_keep=0, **kwargs):
        out = super().forward(
            input_ids=input_ids, position_ids=position_ids, cache=cache, logits_to_keep=logits_to_keep, **kwargs
        )
        rows = out.logits.shape[1]
        nxt = position_ids[0, -rows:] + 1  # [rows]: positions being predicted
        token = torch.where(self.wrong[nxt], (self.script[nxt] + 1) % (VOCAB - 1), self.script[nxt])
        logits = torch.full_like(out.logits, -5.0)
        logits[0, torch.arange(rows), token] = 5.0
        out.logits = logits
        return out


TARGET = tiny_llama(0)
RANDOM_DRAFT = tiny_llama(1, layers=1)
SCRIPTED = tiny_llama(2, layers=1, cls=ScriptedDraft)
for _m in (RANDOM_DRAFT, SCRIPTED):
    _m.config.pard_token = MASK

PROMPTS = [
    torch.randint(0, MASK, (1, length), generator=torch.Generator().manual_seed(100 + length))
    for length in (1, 2, 5, 9, 16)
]
MAX_NEW = 24
REFERENCES = [greedy_reference(TARGET, prompt, MAX_NEW + 20) for prompt in PROMPTS]


def scripted_draft(prompt_index, wrong_rate, seed=0):
    script = REFERENCES[prompt_index][0]
    wrong = torch.rand(script.shape[0], generator=torch.Generator().manual_seed(seed)) < wrong_rate
    SCRIPTED.set_script(script, wrong)
    return SCRIPTED


def expected(prompt_index, max_new, eos=None):
    ref = REFERENCES[prompt_index][:, : PROMPTS[prompt_index].shape[1] + max_new]
    if eos is not None:
        new = ref[0, PROMPTS[prompt_index].shape[1] :].tolist()
        if eos in new:
            ref = ref[:, : PROMPTS[prompt_index].shape[1] + new.index(eos) + 1]
    return ref


# ---------------------------------------------------------------- greedy equivalence


@pytest.mark.parametrize("prompt_index", range(len(PROMPTS)))
def test_plain_decoding_matches_reference_and_transformers(prompt_index):
    prompt = PROMPTS[prompt_index]
    out = generate(TARGET, prompt, method="none", max_new_tokens=MAX_NEW)
    assert torch.equal(out.sequences, expected(prompt_index, MAX_NEW))
    hf = TARGET.generate(prompt, do_sample=False, max_new_tokens=MAX_NEW)
    assert torch.equal(out.sequences, hf)
    assert out.stats.accepted_lengths == [1] * MAX_NEW
    assert out.stats.target_calls == MAX_NEW and out.stats.draft_calls == 0


@pytest.mark.parametrize("k", range(1, 17))
def test_greedy_speculative_is_token_identical(k):
    """Every K, both draft methods, drafts from never to always right, several prompts."""
    seen_accepted = set()
    for i, method in enumerate(("ar", "pard")):
        prompt_index = (k + i) % len(PROMPTS)
        prompt = PROMPTS[prompt_index]
        drafts = [("random", RANDOM_DRAFT), ("scripted-perfect", None), ("scripted-30%-wrong", None)]
        if method == "ar":
            drafts.append(("target-as-draft", TARGET))
        for name, draft in drafts:
            if draft is None:
                draft = scripted_draft(prompt_index, 0.0 if "perfect" in name else 0.3, seed=k)
            out = generate(TARGET, prompt, draft=draft, method=method, k=k, max_new_tokens=MAX_NEW)
            assert torch.equal(out.sequences, expected(prompt_index, MAX_NEW)), (method, name)
            stats = out.stats
            assert stats.new_tokens == MAX_NEW
            assert sum(stats.accepted_lengths) == MAX_NEW  # no EOS: nothing truncated
            assert all(1 <= a <= k + 1 for a in stats.accepted_lengths)
            assert stats.target_calls == stats.iterations
            seen_accepted.update(stats.accepted_lengths)
            if "perfect" in name or name == "target-as-draft":
                # all K accepted each time; the last iteration's K shrinks to what is left
                assert stats.accepted_lengths[:-1] == [k + 1] * (stats.iterations - 1)
    assert 1 in seen_accepted and k + 1 in seen_accepted


@pytest.mark.parametrize("method", ["ar", "pard"])
@pytest.mark.parametrize("k", [3, 7])
def test_every_max_new_tokens_offset(method, k):
    for max_new in range(1, 21):
        prompt_index = max_new % len(PROMPTS)
        for wrong_rate in ((0.0, 0.3) if max_new <= k + 2 else (0.0,) if max_new % 2 else (0.3,)):
            draft = scripted_draft(prompt_index, wrong_rate, seed=max_new)
            out = generate(TARGET, PROMPTS[prompt_index], draft=draft, method=method, k=k, max_new_tokens=max_new)
            assert torch.equal(out.sequences, expected(prompt_index, max_new)), (max_new, wrong_rate)
            assert out.stats.new_tokens == max_new


def _eos_candidates(prompt_index, lo=2, hi=16):
    """New-token indices i in lo..hi whose token does not occur earlier in the continuation."""
    new = REFERENCES[prompt_index][0, PROMPTS[prompt_index].shape[1] :].tolist()
    return [(i, new[i]) for i in range(lo, hi) if new[i] not in new[:i]]


def test_eos_candidates_exist():
    assert all(len(_eos_candidates(i)) >= 2 for i in range(len(PROMPTS)))


@pytest.mark.parametrize("method", ["ar", "pard"])
@pytest.mark.parametrize("k", [1, 2, 5, 8, 16])
def test_eos_inside_an_accepted_block(method, k):
    for prompt_index in ((k + len(method)) % len(PROMPTS), (k + len(method) + 2) % len(PROMPTS)):
        prompt = PROMPTS[prompt_index]
        for position, eos in _eos_candidates(prompt_index)[:2]:
            want = expected(prompt_index, MAX_NEW, eos=eos)
            assert want.shape[1] == prompt.shape[1] + position + 1
            for wrong_rate in (0.0, 0.3):
                draft = scripted_draft(prompt_index, wrong_rate, seed=position)
                dec = SpeculativeDecoder(
                    TARGET, prompt, draft=draft, method=method, k=k, max_new_tokens=MAX_NEW, eos_token_id=eos
                )
                records = list(dec)
                assert torch.equal(dec.sequences, want), (prompt_index, eos, wrong_rate)
                assert dec.stop_reason == "eos" and records[-1].emitted[-1] == eos
                if wrong_rate == 0.0 and k > position:
                    # the EOS came in the first block, with accepted proposals after it: truncated there
                    assert len(records) == 1 and records[0].accepted_length > position + 1
            out = generate(
                TARGET, prompt, draft=RANDOM_DRAFT, method=method, k=k, max_new_tokens=MAX_NEW, eos_token_id=[eos, 999]
            )
            assert torch.equal(out.sequences, want)


def test_eos_matches_transformers_generate():
    prompt_index = 3
    position, eos = _eos_candidates(prompt_index)[0]
    prompt = PROMPTS[prompt_index]
    hf = TARGET.generate(prompt, do_sample=False, max_new_tokens=MAX_NEW, eos_token_id=eos, pad_token_id=0)
    draft = scripted_draft(prompt_index, 0.0)
    for method in ("none", "ar", "pard"):
        out = generate(TARGET, prompt, draft=draft, method=method, k=8, max_new_tokens=MAX_NEW, eos_token_id=eos)
        assert torch.equal(out.sequences, hf), method


def test_mask_token_id_argument_overrides_config_and_accepts_1d_prompt():
    draft = tiny_llama(3, layers=1)  # no pard_token in its config
    out = generate(TARGET, PROMPTS[2][0], draft=draft, method="pard", k=4, max_new_tokens=10, mask_token_id=MASK)
    assert torch.equal(out.sequences, expected(2, 10))


# ---------------------------------------------------------------- step API, stats, caches


def test_generate_is_the_step_loop():
    prompt_index = 2
    draft = scripted_draft(prompt_index, 0.3, seed=5)
    dec = SpeculativeDecoder(TARGET, PROMPTS[prompt_index], draft=draft, method="pard", k=5, max_new_tokens=MAX_NEW)
    records = []
    while not dec.done:
        records.append(dec.step())
    emitted = [t for r in records for t in r.emitted]
    assert emitted == expected(prompt_index, MAX_NEW)[0, PROMPTS[prompt_index].shape[1] :].tolist()
    assert [r.accepted_length for r in records] == dec.stats.accepted_lengths
    for i, r in enumerate(records):
        assert r.iteration == i + 1
        assert r.emitted == (r.proposals[: r.accepted] + [r.bonus])
        assert len(r.proposals) <= 5 and 0 <= r.accepted <= len(r.proposals)
        assert r.finished == (i == len(records) - 1)
    assert records[-1].stop_reason == "max_new_tokens"
    with pytest.raises(RuntimeError, match="finished"):
        dec.step()
    out = generate(TARGET, PROMPTS[prompt_index], draft=draft, method="pard", k=5, max_new_tokens=MAX_NEW)
    assert torch.equal(out.sequences, dec.sequences)
    assert out.stats.accepted_lengths == dec.stats.accepted_lengths


def test_stats_are_consistent():
    draft = scripted_draft(1, 0.3, seed=9)
    for method in ("none", "ar", "pard"):
        s = generate(TARGET, PROMPTS[1], draft=draft, method=method, k=4, max_new_tokens=MAX_NEW).stats
        assert s.new_tokens == MAX_NEW and s.iterations == len(s.accepted_lengths)
        assert s.mean_accepted_length == pytest.approx(sum(s.accepted_lengths) / s.iterations)
        assert s.target_calls == s.iterations
        assert s.seconds >= s.draft_seconds + s.target_seconds > 0
        assert 0 <= s.overhead_fraction < 1
        assert s.tokens_per_second == pytest.approx(MAX_NEW / s.seconds)
        names = {"mean_accepted_length", "tokens_per_second", "overhead_seconds", "overhead_fraction"}
        assert set(s.as_dict()) >= names
        assert "tok/s" in str(s)
        if method == "pard":  # one draft forward per iteration (none in a last 1-token iteration)
            assert s.iterations - 1 <= s.draft_calls <= s.iterations
        if method == "none":
            assert s.draft_calls == 0 and s.draft_seconds == 0


def test_target_never_refed_the_whole_sequence():
    """The target is fed the prompt + K proposals once, then the bonus + K proposals per iteration."""
    fed = []
    hook = TARGET.register_forward_pre_hook(
        lambda mod, args, kwargs: fed.append(kwargs["input_ids"].shape[1]), with_kwargs=True
    )
    try:
        prompt = PROMPTS[4]
        dec = SpeculativeDecoder(TARGET, prompt, draft=RANDOM_DRAFT, method="pard", k=3, max_new_tokens=MAX_NEW)
        records = list(dec)
    finally:
        hook.remove()
    assert fed[0] == prompt.shape[1] + 3
    assert fed[1:] == [1 + len(r.proposals) for r in records[1:]]
    # after each iteration the target cache holds everything but the newest token
    assert cache_length(dec.target_cache) == dec.length - 1


def test_cache_lengths_after_each_step():
    prompt = PROMPTS[3]
    for method in ("ar", "pard"):
        draft = scripted_draft(3, 0.3, seed=1)
        dec = SpeculativeDecoder(TARGET, prompt, draft=draft, method=method, k=4, max_new_tokens=MAX_NEW)
        for record in dec:
            if record.finished:
                break
            assert cache_length(dec.target_cache) == dec.length - 1
            if method == "pard":  # masks cropped, accepted proposals + bonus not fed yet
                assert cache_length(dec.drafter.cache) == dec.length - len(record.emitted)
            else:  # the AR draft was fed x_1..x_{K-1}: keeps the accepted ones, at most K-1
                fed = dec.length - len(record.emitted) + min(record.accepted, len(record.proposals) - 1)
                assert cache_length(dec.drafter.cache) == fed


def test_crop_cache_rolls_back_exactly():
    seq = REFERENCES[4][:, :20]
    with torch.no_grad():
        full = TARGET(input_ids=seq).logits[0]  # [20, V] no cache
        cache = new_cache(TARGET)
        positions = torch.arange(20).unsqueeze(0)
        model_forward(TARGET, seq[:, :14], cache, positions[:, :14], 1)
        crop_cache(cache, 9)
        assert cache_length(cache) == 9
        crop_cache(cache, 9)  # no-op
        assert cache_length(cache) == 9
        logits = model_forward(TARGET, seq[:, 9:20], cache, positions[:, 9:20], 11)  # [11, V]
    assert cache_length(cache) == 20
    torch.testing.assert_close(logits, full[9:20], rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="cannot crop"):
        crop_cache(cache, 21)
    with pytest.raises(ValueError, match="cannot crop"):
        crop_cache(cache, -1)


def test_parallel_drafter_matches_uncached_masks():
    seq = torch.zeros(1, 40, dtype=torch.long)
    seq[:, :12] = REFERENCES[4][:, :12]
    positions = torch.arange(40).unsqueeze(0)
    drafter = ParallelDrafter(RANDOM_DRAFT, positions, ForwardClock(torch.device("cpu")), MASK, k=6)
    with torch.no_grad():
        for length, k in ((7, 6), (12, 3)):
            proposals, q = drafter.propose(seq, length, k, 0.0, 1.0, None)
            masked = torch.cat((seq[:, :length], torch.full((1, k - 1), MASK)), dim=1)
            want = RANDOM_DRAFT(input_ids=masked).logits[0, -k:].argmax(-1)
            assert torch.equal(proposals, want) and q is None
            assert cache_length(drafter.cache) == length == drafter.fed
            drafter.commit(length, 2)  # nothing to crop: accepted proposals were never fed
            assert cache_length(drafter.cache) == length
        proposals, q = drafter.propose(seq, 14, 4, 0.8, 0.9, torch.Generator().manual_seed(0))
        assert q.shape == (4, VOCAB) and torch.all(q[torch.arange(4), proposals] > 0)
    assert drafter.clock.calls == 3


def test_ar_drafter_feeds_k_minus_1_and_rolls_back():
    seq = torch.zeros(1, 40, dtype=torch.long)
    seq[:, :10] = PROMPTS[4][:, :10]
    positions = torch.arange(40).unsqueeze(0)
    drafter = ARDrafter(RANDOM_DRAFT, positions, ForwardClock(torch.device("cpu")))
    with torch.no_grad():
        proposals, _ = drafter.propose(seq, 10, 5, 0.0, 1.0, None)
        want = greedy_reference(RANDOM_DRAFT, seq[:, :10], 5)[0, 10:]
        assert torch.equal(proposals, want)
        assert cache_length(drafter.cache) == 10 + 4  # x_5 never fed
        seq[0, 10:15] = proposals
        drafter.commit(10, 5)  # all accepted: keep all 4, x_5 is fed next time
        assert cache_length(drafter.cache) == 14
        seq[0, 15] = 3  # a bonus
        proposals, _ = drafter.propose(seq, 16, 3, 0.0, 1.0, None)
        assert torch.equal(proposals, greedy_reference(RANDOM_DRAFT, seq[:, :16], 3)[0, 16:])
        drafter.commit(16, 1)  # one accepted
        assert cache_length(drafter.cache) == 17
    assert drafter.clock.calls == 8


# ---------------------------------------------------------------- sampling: reproducibility


@pytest.mark.parametrize("method", ["none", "ar", "pard"])
def test_same_seed_same_output(method):
    kwargs = dict(draft=RANDOM_DRAFT, method=method, k=4, max_new_tokens=20, temperature=0.9, top_p=0.95)
    a = generate(TARGET, PROMPTS[2], seed=11, **kwargs).sequences
    b = generate(TARGET, PROMPTS[2], seed=11, **kwargs).sequences
    c = generate(TARGET, PROMPTS[2], seed=12, **kwargs).sequences
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert a.shape[1] == PROMPTS[2].shape[1] + 20


def test_sampling_with_the_target_as_its_own_draft_accepts_everything():
    """q == p (up to float64 rounding): every proposal passes the rejection test."""
    out = generate(TARGET, PROMPTS[3], draft=TARGET, method="ar", k=4, max_new_tokens=20, temperature=1.0, seed=0)
    assert out.stats.accepted_lengths == [5, 5, 5, 5]


# ---------------------------------------------------------------- bad input


def _bad(match, *args, **kwargs):
    with pytest.raises(ValueError, match=match):
        generate(*args, **kwargs)


def test_bad_inputs_raise_clear_errors():
    prompt = PROMPTS[1]
    other_vocab = tiny_llama(4, layers=1, vocab=VOCAB + 8)
    _bad(r"vocabulary mismatch.*64.*72", TARGET, prompt, draft=other_vocab, method="ar")
    _bad(r"vocabulary mismatch", TARGET, prompt, draft=other_vocab, method="pard", mask_token_id=1)
    no_mask = tiny_llama(5, layers=1)
    _bad(r"pard_token.*config\.json.*mask_token_id", TARGET, prompt, draft=no_mask, method="pard")
    _bad(r"mask token id 64 is outside the draft's vocabulary 0\.\.63", TARGET, prompt, draft=no_mask, method="pard",
         mask_token_id=VOCAB)
    _bad(r"mask token id -1", TARGET, prompt, draft=no_mask, method="pard", mask_token_id=-1)
    _bad(r"k \(draft length.*>= 1, got 0", TARGET, prompt, draft=RANDOM_DRAFT, k=0)
    _bad(r"k \(draft length", TARGET, prompt, draft=RANDOM_DRAFT, k=2.5)
    _bad(r"empty prompt", TARGET, torch.zeros(1, 0, dtype=torch.long), draft=RANDOM_DRAFT)
    _bad(r"batch size 2 is not supported", TARGET, torch.zeros(2, 3, dtype=torch.long), draft=RANDOM_DRAFT)
    _bad(r"prompt \(5 tokens\) \+ max_new_tokens \(124\) = 129 exceeds the target's max_position_embeddings \(128\)",
         TARGET,
         PROMPTS[2], draft=RANDOM_DRAFT, max_new_tokens=124)
    short_draft = tiny_llama(6, layers=1, max_positions=16)
    _bad(r"exceeds the draft's max_position_embeddings \(16\)", TARGET, PROMPTS[2], draft=short_draft, method="ar",
         max_new_tokens=12)
    _bad(r"unknown method 'medusa'.*'none', 'ar', 'pard'", TARGET, prompt, draft=RANDOM_DRAFT, method="medusa")
    _bad(r"method='ar' needs a draft model", TARGET, prompt, method="ar")
    _bad(r"method='pard' needs a draft model", TARGET, prompt)
    _bad(r"max_new_tokens must be an integer >= 1", TARGET, prompt, method="none", max_new_tokens=0)
    _bad(r"temperature must be >= 0", TARGET, prompt, method="none", temperature=-1.0)
    _bad(r"top_p must be in \(0, 1\]", TARGET, prompt, method="none", temperature=1.0, top_p=0.0)
    _bad(r"outside the target's vocabulary", TARGET, torch.tensor([[1, VOCAB]]), method="none")


def test_bad_input_fails_before_any_forward():
    calls = []
    hook = TARGET.register_forward_pre_hook(lambda *a: calls.append(1))
    try:
        _bad("max_position_embeddings", TARGET, PROMPTS[2], draft=RANDOM_DRAFT, max_new_tokens=500)
    finally:
        hook.remove()
    assert calls == []


def test_public_names():
    for name in ("generate", "SpeculativeDecoder", "StepRecord", "DecodingStats", "DecodingOutput",
                 "verify_greedy", "verify_sampling", "probabilities", "crop_cache"):
        assert hasattr(pard_ref, name)
