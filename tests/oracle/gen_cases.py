#!/usr/bin/env python3
"""Deterministic random verify requests that stress the grader's corners.

Written for fcpivot's differential test (tests/test_oracle.c): every line is a
NeMo Gym verify request (a few with expected arguments that do not parse,
which have a verdict only while no comparison reaches them), whose actual
response mixes near-misses of the expected action with the quirks of Python's
json and str (bool/int, int/float, NaN, inf, 30-digit ints, lone surrogates,
Unicode case and whitespace, duplicate keys, broken JSON, deep nesting).

usage: gen_cases.py [--seed S] [--count N]
"""
import argparse
import json
import random

WORDS = ["paris", "New", "york", "CITY", "straße", "İstanbul", "ΟΔΟΣ", "οδος",
         "ǅemal", "ﬁle", "naïve", "東京", "the", "the", "a", "ΣΑΣ", "Ωmega"]
SPACES = [" ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u001c", "\u001f", "\u0085",
          "\u2028", "\u200a", "\u180e", "\u200b", "\u202f", "\u1680", "\x0b"]
NAMES = ["get_weather", "book_flight", "search", "lookup_user", "send_email"]


def rand_string(r, surrogates=True):
    """Words joined by assorted whitespace. Lone surrogates only where they can
    occur in practice: escaped inside an arguments text, never in the outer
    request (jansson, like any strict UTF-8 reader, refuses those)."""
    n = r.choice([0, 1, 1, 2, 3, 4, 6])
    parts = [r.choice(WORDS) for _ in range(n)]
    s = ""
    for w in parts:
        s += r.choice(SPACES) if s else r.choice(["", "", " ", "\u3000"])
        s += w
    if r.random() < 0.15:
        s += r.choice(SPACES)
    if surrogates and r.random() < 0.05:
        s += r.choice(["\ud800", "\udfff", "\ud83d"])
    return s


def rand_scalar(r):
    k = r.randrange(9)
    if k == 0:
        return r.choice([0, 1, -1, 7, 123456789012345678901234567890, -2**70])
    if k == 1:
        return r.choice([True, False])
    if k == 2:
        return r.choice([0.0, -0.0, 1.0, 0.1, 2.5e-7, 1e300, float("inf"), float("nan"), -1.5])
    if k == 3:
        return None
    return rand_string(r)


def rand_value(r, depth=0):
    k = r.randrange(10)
    if depth < 3 and k == 0:
        return [rand_value(r, depth + 1) for _ in range(r.randrange(4))]
    if depth < 3 and k == 1:
        return {r.choice("abcdef"): rand_value(r, depth + 1) for _ in range(r.randrange(4))}
    return rand_scalar(r)


def perturb_scalar(r, v):
    """A value near v: equal, same type different, or a type flip."""
    k = r.randrange(6)
    if k == 0:
        return v
    if isinstance(v, bool):
        return r.choice([int(v), not v, v, str(v).lower()])
    if isinstance(v, int):
        return r.choice([v + 1, float(v), v == 1, v, -v, str(v)])
    if isinstance(v, float):
        return r.choice([v + 5e-7, v + 2e-6, int(v) if v == v and abs(v) < 1e18 else 0,
                         v, -v, float("nan")])
    if isinstance(v, str):
        w = v.split()
        r.shuffle(w)
        return r.choice([v.upper(), " ".join(w), v + " extra words here",
                         v.lower(), " " + v + " ", rand_string(r)])
    return r.choice([0, False, "None", None])


def perturb(r, v):
    if isinstance(v, dict):
        d = {k: (perturb(r, x) if r.random() < 0.5 else x) for k, x in v.items()}
        if r.random() < 0.1:
            d["zz"] = 1
        if d and r.random() < 0.1:
            d.pop(next(iter(d)))
        return d
    if isinstance(v, list):
        l = [perturb(r, x) if r.random() < 0.5 else x for x in v]
        if r.random() < 0.1:
            l.append(0)
        return l
    return perturb_scalar(r, v)


def dumps(v, r):
    """Arguments text; raw lone surrogates would make the outer request
    invalid UTF-8, so those are always escaped."""
    text = json.dumps(v, ensure_ascii=r.random() < 0.5)
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        text = json.dumps(v, ensure_ascii=True)
    return text


BROKEN = ["{", "", "01", "[1,]", "-NaN", "{\"a\":1}}", "nan", "\ufeff{}", "{'a': 1}",
          "{\"a\": \"\x01\"}", "1" * 4301, "[" * 5000 + "]" * 5000, "{\"a\": .5}",
          "\"\\ud800\"", "  {\"a\" : [ 1 , 2 ] }  ", "{\"a\":1,\"a\":2}", "Infinity", "1E5"]


def call(name, args_text):
    return {"type": "function_call", "name": name, "arguments": args_text}


def actual_calls(r, expected):
    out = []
    for name, args in expected:
        k = r.random()
        if k < 0.08:
            continue
        if k < 0.15:
            name = r.choice(NAMES)
        text = dumps(perturb(r, args) if r.random() < 0.5 else args, r)
        if r.random() < 0.05:
            text = r.choice(BROKEN)
        out.append(call(name, text))
    if r.random() < 0.15:
        out.append(call(r.choice(NAMES), dumps(rand_value(r), r)))
    if r.random() < 0.5:
        r.shuffle(out)
    return out


def text_part(r):
    """An output_text part, or one of the untyped shapes pydantic reads
    (text + annotations: output_text) or does not (text alone)."""
    k = r.random()
    if k < 0.15:
        return {"text": rand_string(r, False), "annotations": []}
    if k < 0.25:
        return {"text": rand_string(r, False)}
    return {"type": "output_text", "text": rand_string(r, False), "annotations": []}


def message(r):
    """An output message; sometimes without "role" (an assistant message for
    pydantic) or with another role."""
    msg = {"type": "message", "role": "assistant", "content": [
        {"type": "refusal", "refusal": "no"}] if r.random() < 0.3 else [text_part(r)]}
    k = r.random()
    if k < 0.2:
        del msg["role"]
    elif k < 0.3:
        msg["role"] = r.choice(["user", "system"])
    return msg


def response(r, calls):
    output = []
    if r.random() < 0.3:
        output.append({"type": "reasoning", "id": "rs_1", "summary": []})
    if r.random() < 0.4:
        output.append(message(r))
    for c in calls:
        output.append(dict(c, call_id="call_x", id="fc_x", status="completed"))
    if r.random() < 0.1:
        r.shuffle(output)
    return {"id": "resp_1", "object": "response", "output": output}


def case(r):
    kind = r.random()
    if kind < 0.15:
        exp = {"type": "message", "content": rand_string(r, False)}
        expected = []
    else:
        n = 1 if kind < 0.6 else r.randrange(2, 5)
        expected = [(r.choice(NAMES[:3]), {k: rand_value(r) for k in r.sample("pqrstu", r.randrange(1, 4))})
                    for _ in range(n)]
        calls = [call(nm, dumps(a, r)) for nm, a in expected]
        if r.random() < 0.05:   # unparsable: a verdict only if never reached
            calls[r.randrange(n)]["arguments"] = r.choice(BROKEN[:4])
        exp = calls[0] if n == 1 else {"type": "function_call_batch", "calls": calls}
    if expected and r.random() < 0.85:
        acts = actual_calls(r, expected)
    else:
        acts = [] if r.random() < 0.3 else actual_calls(r, [(r.choice(NAMES), rand_value(r))])
    return {"responses_create_params": {"input": [{"role": "user", "content": "hi"}]},
            "response": response(r, acts), "expected_action": exp}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=2000)
    a = p.parse_args()
    r = random.Random(a.seed)
    for _ in range(a.count):
        print(json.dumps(case(r), ensure_ascii=True, allow_nan=False))


if __name__ == "__main__":
    main()
