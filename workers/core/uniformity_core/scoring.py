"""Log-likelihood of continuations given contexts on a causal LM, numerically
the numbers lm-evaluation-harness's HFLM.loglikelihood returns, computed with
less work.

Tokenisation is the harness's: trailing spaces of the context move to the
continuation; the continuation's tokens are encode(context + continuation)
minus the first len(encode(context)) tokens; the model sees
encode(context) + continuation tokens (left-truncated to max_length + 1).

Where the harness runs every (context, choice) pair as its own sequence, we
run each distinct context once, keep its key/value cache, and then run only
the choices' tokens against that cache, one row per distinct choice. With a
25-shot ARC prompt of ~1000 tokens and 4 choices of ~5 tokens, that is ~4x
fewer tokens through the model.

Padding never changes a number: contexts are right-padded (a real token never
sees a pad: the mask hides pads from every later token), each choice row is
positioned by explicit position ids right after its own context, not after
the padded width, and the attention mask hides the pad slots in between.
"""

import inspect

import torch
import torch.nn.functional as F


class Tokenization:
    """The harness's HFLM tok_encode/_encode_pair, for a HF tokenizer."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        # Conditioning token for an empty context (the harness's prefix_token_id).
        self.prefix_token_id = (tokenizer.bos_token_id if tokenizer.bos_token_id is not None
                                else tokenizer.eos_token_id)
        self._bos_text = (tokenizer.decode(self.prefix_token_id)
                          if self.prefix_token_id is not None else None)

    def encode(self, text, add_special_tokens=None):
        # Default special tokens (a LLaMA tokenizer prepends BOS), except when
        # the text already starts with the BOS text: never two BOS tokens.
        if add_special_tokens is None:
            kwargs = {"add_special_tokens": False} if (self._bos_text and text.startswith(self._bos_text)) else {}
        else:
            kwargs = {"add_special_tokens": add_special_tokens}
        return list(self.tokenizer.encode(text, **kwargs))

    def encode_pair(self, context, continuation):
        if context == "":
            cont = self.encode(continuation, add_special_tokens=False)
            if cont and cont[0] == self.prefix_token_id:
                return cont[:1], cont[1:]
            return [self.prefix_token_id], cont
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            # "Answer: " + "B" tokenises as "Answer:" + " B" in most vocabularies.
            continuation = context[-n_spaces:] + continuation
            context = context[:-n_spaces]
        whole = self.encode(context + continuation)
        ctx = self.encode(context)
        return ctx, whole[len(ctx):]


def max_length_of(model, tokenizer, default=2048):
    """The model's context window as the harness resolves it."""
    config = model.config
    text_config = getattr(config, "text_config", None)
    for cfg in (text_config, config):
        if cfg is None:
            continue
        for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
            value = getattr(cfg, attr, None)
            if isinstance(value, int) and value > 0:
                return value
    tmax = getattr(tokenizer, "model_max_length", None)
    # Tokenizers without a limit report ~1e30.
    if isinstance(tmax, int) and 0 < tmax < 1_000_000_000:
        return tmax
    return default


class Unscorable(ValueError):
    """A request the model cannot score (an answer of no tokens, or longer
    than the model's window): bad input, not a crash."""


def _log_probs(logits):
    # bf16/fp16 logits are upcast before the softmax (a bf16 log-softmax loses
    # ~3 digits); fp64 stays fp64, which the batch-invariance test relies on.
    return F.log_softmax(logits if logits.dtype == torch.float64 else logits.float(), dim=-1)


def _cache_kv(cache):
    """Per-layer (keys, values) of a DynamicCache (transformers >= 4.56)."""
    return [(layer.keys, layer.values) for layer in cache.layers]


def _set_cache_kv(cache, kv):
    # Swapping the tensors in place is what lets one cache object serve every
    # choice slot without copying the context's keys and values again.
    for layer, (k, v) in zip(cache.layers, kv):
        layer.keys, layer.values = k, v


class Scorer:
    """Batched log P(continuation | context) for one model and tokenizer.

    batch_size bounds the rows of every forward pass: contexts in the first
    pass, choice rows in the second."""

    def __init__(self, model, tokenizer, device, batch_size=8, max_length=None):
        self.model = model
        self.tok = Tokenization(tokenizer)
        self.device = torch.device(device)
        self.batch_size = max(1, int(batch_size))
        self.max_length = max_length or max_length_of(model, tokenizer)
        params = inspect.signature(model.forward).parameters
        # transformers renamed past_key_values to cache in 5.2x; the GPU box
        # may run an older 5.x.
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._keep_kw = "logits_to_keep" if "logits_to_keep" in params else None
        from transformers import DynamicCache
        self._DynamicCache = DynamicCache

    # ------------------------------------------------------------ planning

    def encode(self, requests):
        """(context, continuation) strings -> (context ids, continuation ids),
        the context already left-truncated the way the harness truncates."""
        out = []
        for context, continuation in requests:
            ctx, cont = self.tok.encode_pair(context, continuation)
            if not cont:
                raise Unscorable(f"continuation {continuation!r} encodes to no tokens")
            if len(cont) > self.max_length:
                raise Unscorable(f"continuation of {len(cont)} tokens exceeds the model's "
                                 f"{self.max_length}-token window")
            # The harness feeds (ctx + cont)[-(max_length + 1):][:-1]: dropping
            # tokens from the left of the context is the same thing.
            overflow = len(ctx) + len(cont) - (self.max_length + 1)
            if overflow > 0:
                ctx = ctx[overflow:]
            out.append((tuple(ctx), tuple(cont)))
        return out

    # ------------------------------------------------------------ scoring

    def loglikelihoods(self, requests, on_progress=None):
        """Log-likelihood of each request's continuation, as floats, in order;
        on_progress(done) after every batch, done counting requests."""
        encoded = self.encode(requests)
        # Identical requests are computed once; choices group under their context.
        groups = {}
        for i, (ctx, cont) in enumerate(encoded):
            groups.setdefault(ctx, {}).setdefault(cont, []).append(i)
        # Longest first (as the harness): the first batch shows the peak memory,
        # and neighbours have similar lengths, so little padding.
        order = sorted(groups, key=lambda c: (-(len(c) + max(len(x) for x in groups[c])), c))
        result = [0.0] * len(requests)
        done = 0
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                contexts = order[start:start + self.batch_size]
                for (ctx, cont), ll in self._score_batch(contexts, groups):
                    for i in groups[ctx][cont]:
                        result[i] = ll
                        done += 1
                if on_progress:
                    on_progress(done)
        return result

    def _forward(self, **kwargs):
        out = self.model(**kwargs)
        return out.logits

    def _score_batch(self, contexts, groups):
        dev = self.device
        lengths = [len(c) for c in contexts]
        width = max(lengths)
        ids = torch.zeros((len(contexts), width), dtype=torch.long)
        mask = torch.zeros((len(contexts), width), dtype=torch.long)
        for b, ctx in enumerate(contexts):
            ids[b, :len(ctx)] = torch.tensor(ctx)
            mask[b, :len(ctx)] = 1
        ids, mask = ids.to(dev), mask.to(dev)
        last = torch.tensor([n - 1 for n in lengths], device=dev)

        # Pass 1: every context once; keep its cache and the distribution of
        # the token that follows it (the first token of every choice).
        cache = self._DynamicCache()
        kwargs = {"input_ids": ids, "attention_mask": mask, "use_cache": True, self._cache_kw: cache}
        if self._keep_kw:
            # Only the last real position of each row is needed; materialising
            # logits for every position would cost width x vocab per row.
            keep = torch.unique(last)
            kwargs[self._keep_kw] = keep
            logits = self._forward(**kwargs)
            col = torch.searchsorted(keep, last)
        else:
            logits = self._forward(**kwargs)
            col = last
        first = _log_probs(logits[torch.arange(len(contexts), device=dev), col])

        scores = []
        # Pass 2: the remaining choice tokens against their context's cache,
        # one forward per choice slot: row b of slot j is context b's j-th
        # multi-token choice. A slot every context fills (the usual case)
        # runs on the pass-1 cache as it is; only partial slots gather rows.
        slots = []
        for b, ctx in enumerate(contexts):
            multi = []
            for cont in groups[ctx]:
                if len(cont) == 1:
                    scores.append(((ctx, cont), float(first[b, cont[0]])))
                else:
                    multi.append(cont)
            for j, cont in enumerate(multi):
                if j == len(slots):
                    slots.append([])
                slots[j].append((b, cont))
        kv = _cache_kv(cache)
        for rows in slots:
            scores.extend(self._score_rows(rows, contexts, cache, kv, mask, lengths, first))
        return scores

    def _score_rows(self, chunk, contexts, cache, kv, ctx_mask, lengths, first):
        dev = self.device
        span = max(len(cont) - 1 for _, cont in chunk)
        ids = torch.zeros((len(chunk), span), dtype=torch.long)
        cont_mask = torch.zeros((len(chunk), span), dtype=torch.long)
        pos = torch.zeros((len(chunk), span), dtype=torch.long)
        for r, (b, cont) in enumerate(chunk):
            n = len(cont) - 1
            ids[r, :n] = torch.tensor(cont[:-1])
            cont_mask[r, :n] = 1
            # Positions continue the row's own context, not the padded width.
            pos[r] = torch.arange(lengths[b], lengths[b] + span)
        rows = [b for b, _ in chunk]
        if rows == list(range(len(contexts))):
            # Every context has a row here, in order: the pass-1 tensors serve
            # as they are. (The forward appends to the cache by concatenation,
            # so resetting the layers to these tensors undoes it.)
            _set_cache_kv(cache, kv)
            attn_ctx = ctx_mask
        else:
            idx = torch.tensor(rows, device=dev)
            _set_cache_kv(cache, [(k.index_select(0, idx), v.index_select(0, idx)) for k, v in kv])
            attn_ctx = ctx_mask.index_select(0, idx)
        attn = torch.cat([attn_ctx, cont_mask.to(dev)], dim=1)
        logits = self._forward(input_ids=ids.to(dev), attention_mask=attn, position_ids=pos.to(dev),
                               use_cache=True, **{self._cache_kw: cache})
        logp = _log_probs(logits)
        out = []
        for r, (b, cont) in enumerate(chunk):
            n = len(cont) - 1
            target = torch.tensor(cont[1:], device=dev)
            rest = logp[r, :n].gather(1, target.unsqueeze(1)).double().sum()
            out.append(((contexts[b], cont), float(first[b, cont[0]].double() + rest)))
        return out
