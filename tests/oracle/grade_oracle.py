#!/usr/bin/env python3
"""An executable model of docs/grading.md, for differential tests of the C grader.

Written for fcpivot from the specification alone (it is not NeMo Gym's code).
It leans on CPython for the parts that are hard to get right in C: json.loads
(NaN, big ints, lone surrogates, duplicate keys), str.lower() and str.split().

Input: NeMo Gym verify requests, one JSON object per line, on stdin. Output:
one line {"reward": r, "category": "..."} per request, or {"error": "..."}
when a comparison reaches expected arguments that do not parse (§4.1: they
are parsed only then, so other requests with such arguments get a verdict); with --speed, verdicts/s instead
(the benchmarks' Python comparison). Options mirror `fcpivot grade`.
"""
import argparse
import json
import sys
import time
from collections import Counter

CAT = {
    "NO_ACTION_FOUND": "No tool call or chat message was found in the response",
    "NO_EXPECTED_TOOL_CALL": "No tool call was found when one was expected",
    "EXPECTED_CHAT_MESSAGE_FOUND": "A chat message was found as expected",
    "NO_EXPECTED_CHAT_MESSAGE": "A tool call was executed when a chat message was expected",
    "UNEXPECTED_TOOL": "The tool in a tool call is not the expected tool",
    "ARGUMENTS_DECODE_ERROR": "An error occurred when decoding the arguments string in a tool call as a JSON object",
    "ARGUMENT_VALUE_TYPE_DIFFERENT": "The type of an argument value in a tool call is different than the expected type",
    "ARGUMENT_OBJECT_KEYS_DIFFERENT": "The keys in an object in an argument value in a tool call are different than the keys in the expected object",
    "ARGUMENT_LIST_LENGTH_DIFFERENT": "A list in an argument value in a tool call has a different length than the expected list",
    "ARGUMENT_VALUE_DIFFERENT": "An argument value in a tool call is different than the expected value",
    "EXPECTED_TOOL_CALL": "A tool call that matches the expected tool call was found",
    "FUNCTION_CALL_BATCH_LENGTH_DIFFERENT": "The number of tool calls in a batch is different than expected",
    "EXPECTED_TOOL_CALL_BATCH": "A tool-call batch that matches the expected tool calls was found",
}


class Config:
    def __init__(self, a):
        self.threshold = a.word_similarity_threshold
        self.tolerance = a.float_tolerance
        self.rewarding = a.parallel_rewarding
        self.subset = a.allow_subset
        self.superset = a.allow_superset
        self.mode = a.reward_mode


def is_output_text(part):
    """A part typed output_text, or untyped with text and annotations (the
    pydantic model's default type)."""
    if not isinstance(part, dict):
        return False
    if "type" not in part:
        return "text" in part and "annotations" in part
    return part["type"] == "output_text"


def actual_action(response):
    """docs/grading.md §1.2: calls first, else the first assistant output_text; a
    message without "role" is an assistant message (pydantic default)."""
    calls, text = [], None
    for item in response["output"]:
        kind = item.get("type")
        if kind == "function_call":
            calls.append((item["name"], item["arguments"]))
        elif kind == "message" and item.get("role", "assistant") == "assistant" and text is None:
            for part in item.get("content") or []:
                if is_output_text(part):
                    text = part["text"]
                    break
    if calls:
        return ("calls", calls)
    if text is not None:
        return ("message", text)
    return None


def words(s):
    return s.strip().lower().split()


def compare(x, y, cfg):
    """docs/grading.md §5: None when equal, else the failure category name."""
    if not isinstance(y, type(x)):
        return "ARGUMENT_VALUE_TYPE_DIFFERENT"
    if isinstance(x, dict):
        if set(x) != set(y):
            return "ARGUMENT_OBJECT_KEYS_DIFFERENT"
        for k in x:
            r = compare(x[k], y[k], cfg)
            if r:
                return r
        return None
    if isinstance(x, list):
        if len(x) != len(y):
            return "ARGUMENT_LIST_LENGTH_DIFFERENT"
        for a, b in zip(x, y):
            r = compare(a, b, cfg)
            if r:
                return r
        return None
    if isinstance(x, float):
        return None if abs(y - x) < cfg.tolerance else "ARGUMENT_VALUE_DIFFERENT"
    if isinstance(x, str):
        wx, wy = words(x), words(y)
        if len(wx) < 2 or len(wy) < 2:
            return None if x == y else "ARGUMENT_VALUE_DIFFERENT"
        common = sum((Counter(wx) & Counter(wy)).values())
        sim = common / (len(wx) + len(wy))
        return "ARGUMENT_VALUE_DIFFERENT" if sim < cfg.threshold else None
    return None if x == y else "ARGUMENT_VALUE_DIFFERENT"


UNPARSED = object()


def single(exp, act, cfg):
    """§4.1 on (name, expected text, parsed value or UNPARSED) vs (name, raw
    actual text): the expected text is parsed only once the names match, and
    a failure there raises (no verdict)."""
    if exp[0] != act[0]:
        return 0.0, "UNEXPECTED_TOOL"
    x = exp[2] if exp[2] is not UNPARSED else json.loads(exp[1])
    try:
        y = json.loads(act[1])
    except (ValueError, RecursionError):
        return 0.0, "ARGUMENTS_DECODE_ERROR"
    r = compare(x, y, cfg)
    return (1.0, "EXPECTED_TOOL_CALL") if r is None else (0.0, r)


def batch(E, A, cfg):
    """docs/grading.md §4.2 for calls: admissibility, candidates, Kuhn matching, reward."""
    if len(E) == 1 and len(A) == 1:
        return single(E[0], A[0], cfg)
    admissible = (len(A) == len(E) or not cfg.rewarding
                  or (len(A) < len(E) and cfg.subset)
                  or (len(A) > len(E) and cfg.superset))
    if not admissible:
        return 0.0, "FUNCTION_CALL_BATCH_LENGTH_DIFFERENT"
    cands, fail = [], []
    for e in E:
        c, f = [], None
        for j, a in enumerate(A):
            ok, cat = single(e, a, cfg)
            if ok == 1.0:
                c.append(j)
            elif f is None and cat != "UNEXPECTED_TOOL":
                f = cat
        cands.append(c)
        fail.append(f or "UNEXPECTED_TOOL")
    holder = {}  # actual index -> expected index

    def augment(i, seen):
        for j in cands[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in holder or augment(holder[j], seen):
                holder[j] = i
                return True
        return False

    for i in sorted(range(len(E)), key=lambda k: len(cands[k])):
        augment(i, set())
    m = len(holder)
    nE, nA = len(E), len(A)
    if not cfg.rewarding:
        reward = 1.0 if m == nE else 0.0
    elif cfg.mode == "f1":
        reward = 2 * m / (nE + nA)
    else:
        r = min(nE, nA) if cfg.subset else nE
        if cfg.mode == "fractional":
            reward = m / r if r else 0.0
        else:
            reward = 1.0 if m == r else 0.0
    if reward == 1.0:
        return reward, "EXPECTED_TOOL_CALL" if nE == 1 else "EXPECTED_TOOL_CALL_BATCH"
    matched = set(holder.values())
    if len(matched) == nE or m == nA:
        return reward, "FUNCTION_CALL_BATCH_LENGTH_DIFFERENT"
    first = min(i for i in range(nE) if i not in matched)
    return reward, fail[first]


def expected_calls(req, parse=False):
    """The expected calls as (name, arguments text, value): the value parsed
    now with parse, else UNPARSED (parsed when reached); None for a message."""
    exp = req["expected_action"]
    if exp["type"] == "message":
        return None
    calls = exp["calls"] if exp["type"] == "function_call_batch" else [exp]
    return [(c["name"], c["arguments"], json.loads(c["arguments"]) if parse else UNPARSED)
            for c in calls]


def judge(expected, act, cfg):
    """docs/grading.md §4 on expected_calls() and actual_action() results."""
    if act is None:
        return 0.0, "NO_ACTION_FOUND"
    if expected is None:
        if act[0] == "message":
            return 1.0, "EXPECTED_CHAT_MESSAGE_FOUND"
        return 0.0, "NO_EXPECTED_CHAT_MESSAGE"
    if act[0] == "message":
        return 0.0, "NO_EXPECTED_TOOL_CALL"
    return batch(expected, act[1], cfg)


def speed(requests, cfg):
    """Pure verdicts/s with the expected arguments parsed beforehand, per
    expected-action kind: the figure fcpivot's bench_grade is compared with."""
    cases = [(expected_calls(r, True), actual_action(r["response"])) for r in requests]
    kinds = (("single call / message mix", lambda e: e is None or len(e) == 1),
             ("batches (2+ calls)", lambda e: e is not None and len(e) > 1))
    for label, pick in kinds:
        chosen = [c for c in cases if pick(c[0])]
        if not chosen:
            continue
        best = 0.0
        for _ in range(3):
            t0, n = time.process_time(), 0
            while time.process_time() - t0 < 0.5:
                for e, a in chosen:
                    judge(e, a, cfg)
                n += len(chosen)
            best = max(best, n / (time.process_time() - t0))
        print("  %-34s %10.0f verdicts/s  (Python %s, same mix)"
              % (label, best, sys.version.split()[0]))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--word-similarity-threshold", type=float, default=0.1)
    p.add_argument("--float-tolerance", type=float, default=1e-6)
    p.add_argument("--parallel-rewarding", action="store_true")
    p.add_argument("--allow-subset", action="store_true")
    p.add_argument("--allow-superset", action="store_true")
    p.add_argument("--reward-mode", default="binary_strict",
                   choices=["binary_strict", "fractional", "f1"])
    p.add_argument("--speed", action="store_true",
                   help="time verdicts instead of printing them")
    args = p.parse_args()
    cfg = Config(args)
    if args.speed:
        speed([json.loads(l) for l in sys.stdin if l.strip()], cfg)
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            reward, cat = judge(expected_calls(req), actual_action(req["response"]), cfg)
            out = {"reward": reward, "category": CAT[cat]}
        except (ValueError, RecursionError) as e:
            out = {"error": "expected arguments do not parse: %s" % e}
        sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
