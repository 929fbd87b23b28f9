/* jspan — member spans of a JSON object text (see jspan.h).
 *
 * A small skipper walks the top level: strings end at the first unescaped
 * quote, containers at the bracket that closes their depth (brackets inside
 * strings skipped), scalars at the next delimiter. Only matching keys that
 * contain a backslash are unescaped (by jansson) before comparing.
 */
#include "jspan.h"

#include <stdbool.h>
#include <string.h>

/* Past the string starting at p (a '"'), or end. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end && *p != '"'; p++)
        if (*p == '\\')
            p++;
    return p < end ? p + 1 : end;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Past the value starting at p (< end), or end. */
static const char *skip_value(const char *p, const char *end)
{
    if (*p == '"')
        return skip_string(p, end);
    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']' && !is_ws(*p))
            p++;
        return p;
    }
    for (int depth = 0; p < end; p++) {
        if (*p == '"')
            p = skip_string(p, end) - 1;
        else if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && --depth == 0)
            return p + 1;
    }
    return end;
}

/* Whether the key token [k, k_end) (quotes included) spells name. */
static bool key_equals(const char *k, const char *k_end, const char *name)
{
    size_t n = strlen(name), klen = (size_t)(k_end - k);
    if (!memchr(k, '\\', klen))
        return klen == n + 2 && memcmp(k + 1, name, n) == 0;
    json_t *j = json_loadb(k, klen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    bool eq = json_string_length(j) == n && memcmp(json_string_value(j), name, n) == 0;
    json_decref(j);
    return eq;
}

bool jspan_is_object(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p < end && *p == '{';
}

void jspan_members(const char *p, const char *end, const char *const *names, int n, jspan *out)
{
    const char *at = p;
    memset(out, 0, (size_t)n * sizeof *out);
    if (end - at >= 3 && memcmp(at, "\xEF\xBB\xBF", 3) == 0)   /* a row's BOM */
        at += 3;
    while (at < end && is_ws(*at))
        at++;
    if (at >= end || *at != '{')
        return;
    for (at++; at < end;) {
        while (at < end && (is_ws(*at) || *at == ','))
            at++;
        if (at >= end || *at != '"')
            break;
        const char *k = at;
        at = skip_string(at, end);
        int which = -1;
        for (int i = 0; i < n && which < 0; i++)
            if (key_equals(k, at, names[i]))
                which = i;
        while (at < end && (is_ws(*at) || *at == ':'))
            at++;
        if (at >= end)
            break;
        const char *value = at;
        at = skip_value(at, end);
        if (which >= 0)
            out[which] = (jspan){value, at};
    }
}

json_t *jspan_json(jspan m)
{
    if (!m.v)
        return NULL;
    return json_loadb(m.v, (size_t)(m.end - m.v), JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

