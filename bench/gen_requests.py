#!/usr/bin/env python3
"""Real-size NeMo Gym verify requests for the benchmarks, made from the
project's own sample dataset (data/sample.jsonl), deterministic.

    gen_requests.py SAMPLE N [SEED]   N requests (JSONL) on stdout

Recorded rollouts carry the whole conversation and the tool list twice (in
responses_create_params and in the response), 27-64 KB per line. Each
request here takes one sample row (its expected action, tools and opening
turns), draws a target size in that range, and grows the conversation with
turns borrowed from other rows (user and assistant messages, function calls
with their outputs) and the tool list with other rows' tools until it gets
there. The response has the fields a Responses API response has; its output
is the expected action itself, a perturbed copy (another value, another
tool), or a chat message, so that the graders take every path.
"""
import json
import random
import sys

MIN_BYTES, MAX_BYTES = 27_000, 64_000
TOOLS_BYTES = 6_000          # the tool list grows to about this size


def texts_of(rows):
    """Every message text of the sample rows' conversations."""
    out = []
    for r in rows:
        for item in r["responses_create_params"]["input"]:
            c = item.get("content")
            if isinstance(c, str):
                out.append(c)
            elif isinstance(c, list):
                out += [p["text"] for p in c if isinstance(p, dict) and "text" in p]
    return out


def calls_of(rows):
    """(name, arguments) of every expected function call of the rows."""
    out = []
    for r in rows:
        ea = r["expected_action"]
        for c in ea.get("calls", [ea]) if ea["type"] != "message" else []:
            out.append((c["name"], c["arguments"]))
    return out


def turn(rng, texts, calls, k):
    """A few conversation items in Responses API input shape."""
    if k % 3 == 2 and calls:
        name, args = calls[rng.randrange(len(calls))]
        cid = "call_%016x" % rng.getrandbits(64)
        return [{"type": "function_call", "call_id": cid, "name": name, "arguments": args,
                 "id": "fc_%024x" % rng.getrandbits(96), "status": "completed"},
                {"type": "function_call_output", "call_id": cid,
                 "output": json.dumps({"status": "ok", "detail": texts[rng.randrange(len(texts))]})}]
    role = "user" if k % 3 == 0 else "assistant"
    text = " ".join(texts[rng.randrange(len(texts))] for _ in range(1 + rng.randrange(3)))
    if role == "user":
        return [{"role": "user", "content": text, "type": "message"}]
    return [{"id": "msg_%024x" % rng.getrandbits(96), "type": "message", "role": "assistant",
             "status": "completed",
             "content": [{"annotations": [], "text": text, "type": "output_text", "logprobs": []}]}]


def tool_list(rng, row, rows):
    tools = list(row["responses_create_params"].get("tools", []))
    seen = {t.get("name") for t in tools}
    while len(json.dumps(tools)) < TOOLS_BYTES:
        other = rows[rng.randrange(len(rows))]["responses_create_params"].get("tools", [])
        for t in other:
            if t.get("name") not in seen:
                seen.add(t.get("name"))
                tools.append(t)
        if len(seen) > 200:
            break
    return tools


def perturbed(rng, args):
    """The arguments text with one top-level value changed (or as it is)."""
    try:
        obj = json.loads(args)
    except ValueError:
        return args
    if isinstance(obj, dict) and obj and rng.random() < 0.5:
        k = sorted(obj)[rng.randrange(len(obj))]
        obj[k] = "something else" if not isinstance(obj[k], str) else obj[k] + " (changed)"
    return json.dumps(obj)


def output_of(rng, ea):
    kind = rng.random()
    if ea["type"] == "message" or kind < 0.15:
        text = ea.get("content") if ea["type"] == "message" else "Could you tell me more?"
        return [{"id": "msg_%024x" % rng.getrandbits(96), "type": "message", "role": "assistant",
                 "status": "completed",
                 "content": [{"annotations": [], "text": text, "type": "output_text",
                              "logprobs": []}]}]
    calls = ea.get("calls", [ea]) if ea["type"] == "function_call_batch" else [ea]
    out = []
    for c in calls:
        name = c["name"] if kind < 0.9 else c["name"] + "_v2"
        out.append({"arguments": perturbed(rng, c["arguments"]) if kind > 0.6 else c["arguments"],
                    "call_id": "call_%016x" % rng.getrandbits(64), "name": name,
                    "type": "function_call", "id": "fc_%024x" % rng.getrandbits(96),
                    "status": "completed"})
    return out


def request(rng, row, rows, texts, calls):
    target = rng.randrange(MIN_BYTES, MAX_BYTES)
    rcp = dict(row["responses_create_params"])
    tools = tool_list(rng, row, rows)
    rcp.update({"background": None, "include": None, "instructions": None,
                "max_output_tokens": None, "metadata": None, "model": None, "tools": tools,
                "input": list(rcp["input"])})
    response = {"id": "resp_%032x" % rng.getrandbits(128), "created_at": 1768002749.0,
                "error": None, "incomplete_details": None, "instructions": None, "metadata": {},
                "model": "gpt-4.1-2025-04-14", "object": "response",
                "output": output_of(rng, row["expected_action"]), "parallel_tool_calls": False,
                "temperature": 1.0, "tool_choice": "auto", "tools": tools, "top_p": 1.0,
                "status": "completed", "text": {"format": {"type": "text"}, "verbosity": "medium"},
                "usage": {"input_tokens": 1772, "output_tokens": 94, "total_tokens": 1866},
                "store": True}
    req = {"responses_create_params": rcp, "response": response,
           "expected_action": row["expected_action"]}
    size = len(json.dumps(req))
    k = 0
    while size < target:
        items = turn(rng, texts, calls, k)
        rcp["input"][-1:-1] = items   # before the last turn, which the model answers
        size += len(json.dumps(items)) + 2 * len(items)
        k += 1
    return req


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.strip().splitlines()[3].strip())
    rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
    n = int(sys.argv[2])
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) == 4 else 12)
    texts, calls = texts_of(rows), calls_of(rows)
    out = sys.stdout
    for i in range(n):
        out.write(json.dumps(request(rng, rows[i % len(rows)], rows, texts, calls)))
        out.write("\n")


if __name__ == "__main__":
    main()
