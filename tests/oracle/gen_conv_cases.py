#!/usr/bin/env python3
"""gen_conv_cases — writes N deterministic random conversion cases (JSONL) for
the differential test of src/conv.c against conv_oracle.py
(tests/test_conv_oracle.c): rows mixing every kind of input item, content
part, tool shape, parameter and engine option of docs/eval.md §2.1, some of them
invalid, and chat completions shaped like vLLM / llama.cpp / OpenAI replies
with reasoning fields, <think> spans, tool calls with and without ids, object
arguments and usage blocks. Texts are written with and without \\u escapes,
with escaped <think> tags, so that conv.c's escaped-text handling is compared
with Python's decoded strings.

usage: gen_conv_cases.py SEED N > cases.jsonl
"""
import json
import random
import sys

R = random.Random(int(sys.argv[1]))
N = int(sys.argv[2])

WORDS = ["hello", "caf\u00e9", "na\u00efve", "\u65e5\u672c", "x\ny", "tab\t", 'quo"te', "back\\slash",
         "<think>", "</think>", "<think>a</think>", "emoji \U0001F600", "", " ", "\u00e9\u0301", "/"]


def text():
    return "".join(R.choice(WORDS) for _ in range(R.randint(0, 4)))


def chance(p):
    return R.random() < p


def maybe_null(v, p=0.1):
    return None if chance(p) else v


def part(user):
    r = R.random()
    if r < 0.6:
        return {"type": "input_text" if user else "output_text", "text": text()}
    if r < 0.75:
        d = {"type": "input_image", "image_url": "https://x/" + str(R.randint(0, 9)) + ".png"}
        if chance(0.5):
            d["detail"] = R.choice(["low", "high", "auto"])
        return d
    if r < 0.85:
        d = {"type": "output_text", "text": text()}
        if chance(0.5):
            d["annotations"] = []
        return d
    if r < 0.9:
        return {"type": "refusal", "refusal": text()}
    if r < 0.95:
        return {"type": "input_text"}                       # invalid: no text
    return {"type": "input_file", "file_id": "f"}           # invalid part


def content(user):
    if chance(0.5):
        return text()
    return [part(user) for _ in range(R.randint(0, 3))]


def item():
    r = R.random()
    if r < 0.35:
        role = R.choice(["user", "user", "system", "developer", "assistant", "assistant"])
        d = {"role": role, "content": content(role != "assistant")}
        if chance(0.7):
            d["type"] = "message"
        if chance(0.03):
            d["role"] = "tool"                               # invalid role
        if chance(0.03):
            del d["content"]
        return d
    if r < 0.55:
        return {"type": "reasoning", "id": "rs_1",
                "summary": [{"type": "summary_text", "text": text()} for _ in range(R.randint(0, 2))]}
    if r < 0.75:
        args = json.dumps({"a": R.randint(0, 9), "s": text()}) if chance(0.8) else "{bad"
        d = {"type": "function_call", "call_id": "c%d" % R.randint(0, 9), "name": "f", "arguments": args}
        if chance(0.03):
            d["arguments"] = {"a": 1}                        # invalid: not a string
        return d
    if r < 0.95:
        out = text() if chance(0.7) else [{"type": "input_text", "text": text()}]
        return {"type": "function_call_output", "call_id": "c%d" % R.randint(0, 9), "output": out}
    if r < 0.975:
        return {"type": "web_search_call", "id": "w"}        # invalid type
    return {"content": "x"}                                  # invalid: neither type nor role


def tool():
    r = R.random()
    if r < 0.75:
        t = {"type": "function", "name": R.choice(["f", "g", "lookup"]),
             "description": maybe_null(text(), 0.2),
             "parameters": {"type": "object", "properties": {"a": {"type": "integer"}},
                            "maximum": R.choice([1, 2.5, 123456789012345678])}}
        if chance(0.7):
            t["strict"] = chance(0.5)
        if chance(0.2):
            t["x_extra"] = [1, {"k": text()}]
        return t
    if r < 0.95:
        return {"type": "function", "function": {"name": "h", "parameters": {}}}
    return {"type": "web_search_preview"}                   # invalid tool


def engine_text(d):
    return json.dumps(d) if d is not None else None


def params():
    p = {}
    p["input"] = text() if chance(0.15) else [item() for _ in range(R.randint(0, 7))]
    if chance(0.3):
        p["instructions"] = maybe_null(text(), 0.2)
    if chance(0.6):
        p["tools"] = maybe_null([tool() for _ in range(R.randint(0, 3))], 0.1)
    if chance(0.5):
        p["tool_choice"] = R.choice(["auto", "none", "required", {"type": "function", "name": "f"},
                                     {"type": "function", "function": {"name": "f"}}, None])
    if chance(0.4):
        p["parallel_tool_calls"] = R.choice([True, False, None])
    for k, vals in (("temperature", [0, 0.7, 1.0, None]), ("top_p", [0.9, None]),
                    ("max_output_tokens", [16, 4096, None]), ("user", ["u", None]),
                    ("service_tier", ["auto", None]), ("store", [False, None]),
                    ("top_logprobs", [0, None]), ("background", [False, None]),
                    ("truncation", ["auto", None]), ("stream", [False, None]),
                    ("text", [{"format": {"type": "text"}}, None]), ("model", ["row-model", None])):
        if chance(0.3):
            p[k] = R.choice(vals)
    if chance(0.3):
        p["reasoning"] = R.choice([{"effort": "low"}, {"effort": None}, {"effort": "high", "summary": "auto"},
                                   None])
    if chance(0.3):
        meta = {"k": "v"}
        if chance(0.6):
            meta["extra_body"] = R.choice([
                json.dumps({"top_k": 20, "temperature": 0.1}), json.dumps({"min_p": 0.05}),
                json.dumps({"max_tokens": 5, "stream": True}), "not json", "[1]"])
        if chance(0.5):
            meta["chat_template_kwargs"] = R.choice([
                json.dumps({"enable_thinking": False}), json.dumps({"a": 1, "b": 2}), "{}"])
        p["metadata"] = meta
    return p


def opts():
    o = {"model": "m", "reasoning": R.choice(["field", "field", "think", "drop"]),
         "developer_as_system": chance(0.3)}
    if chance(0.3):
        o["extra_body"] = engine_text(R.choice([{"top_k": 40}, {"seed": 9, "temperature": 2},
                                                 {"repetition_penalty": 1.05, "min_p": 0.2}]))
    if chance(0.3):
        o["chat_template_kwargs"] = engine_text(R.choice([{"enable_thinking": True}, {"a": 0, "c": 3}]))
    if chance(0.3):
        o["seed"] = R.randint(0, 5)
    return o


def escape_tags(s):
    """Some <think> tags and slashes written as escapes inside the JSON text."""
    if chance(0.3):
        s = s.replace("<think>", "\\u003cthink\\u003e")
    if chance(0.3):
        s = s.replace("</think>", "<\\/think>")
    return s


def dump(v):
    return escape_tags(json.dumps(v, ensure_ascii=chance(0.5)))


def tool_call():
    d = {"type": "function", "function": {"name": R.choice(["f", "g"])}}
    r = R.random()
    if r < 0.7:
        d["function"]["arguments"] = json.dumps({"a": R.randint(0, 9), "s": text()})
    elif r < 0.8:
        d["function"]["arguments"] = "{not json"
    elif r < 0.9:
        d["function"]["arguments"] = {"a": [1, 2], "b": {"c": "d e"}}
    if chance(0.8):
        d["id"] = R.choice(["call_1", "chatcmpl-tool-2", "Xb3f9", ""])
    if chance(0.05):
        del d["function"]["name"]
    return d


def completion():
    if chance(0.03):
        return {"error": {"message": "overloaded"}}
    msg = {"role": "assistant", "content": R.choice([text(), text(), None, "",
                                                     [{"type": "text", "text": text()}]])}
    if chance(0.3):
        msg[R.choice(["reasoning_content", "reasoning"])] = R.choice([text(), None, ""])
    if chance(0.5):
        msg["tool_calls"] = [tool_call() for _ in range(R.randint(0, 3))]
    choices = [{"index": 0, "message": msg,
                "finish_reason": R.choice(["stop", "tool_calls", "length", "content_filter", None])}]
    if chance(0.05):
        choices = []
    if chance(0.05):
        choices.append({"index": 1, "message": {"content": "second"}})
    c = {"id": "chatcmpl-1", "object": "chat.completion", "model": "served", "choices": choices}
    if chance(0.7):
        u = {"prompt_tokens": R.randint(1, 900), "completion_tokens": R.randint(0, 90)}
        if chance(0.7):
            u["total_tokens"] = u["prompt_tokens"] + u["completion_tokens"]
        if chance(0.4):
            u["prompt_tokens_details"] = R.choice([{"cached_tokens": 64}, None])
        if chance(0.4):
            u["completion_tokens_details"] = {"reasoning_tokens": R.randint(0, 9)}
        c["usage"] = u
    return c


def main():
    for i in range(N):
        if i % 3 == 2:
            case = {"kind": "reply", "params": dump(params()) if chance(0.8) else None,
                    "completion": dump(completion()), "model": "m", "created_at": 1700000000 + i}
        else:
            kind = "responses" if i % 3 == 1 and chance(0.4) else "request"
            case = {"kind": kind, "params": dump(params()), "opts": opts()}
        sys.stdout.write(json.dumps(case) + "\n")


if __name__ == "__main__":
    main()
