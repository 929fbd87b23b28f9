/* pyjson — JSON text parsed exactly as CPython 3.11's json.loads does, into
 * typed values (used for function-call `arguments` strings).
 *
 * Dialect (what makes it differ from RFC 8259 parsers such as jansson):
 *  - whitespace is only ' ', '\t', '\n', '\r'; a leading BOM is an error;
 *  - numbers follow -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?; without fraction or
 *    exponent they are ints of any size (PJ_INT when they fit int64, else
 *    PJ_BIGINT holding the decimal text), otherwise floats, correctly rounded
 *    (1e400 -> inf); ints of more than PJ_MAX_INT_DIGITS digits are refused
 *    as CPython 3.11 refuses them (ValueError);
 *  - the literals NaN, Infinity and -Infinity are floats;
 *  - strings refuse raw control characters (strict mode); a \uD800-\uDBFF
 *    escape followed by a \uDC00-\uDFFF escape combines, any other surrogate
 *    escape is kept alone: strings are stored as WTF-8 (a lone surrogate is
 *    its 3-byte generalised UTF-8 form) and may contain NUL bytes;
 *  - duplicate keys: the key keeps its first position, the last value wins;
 *  - more than PJ_MAX_DEPTH nested containers is an error, not a crash.
 *
 * Values live in a util_arena; strings without escapes point into the parsed
 * text, so the text must outlive the values.
 */
#ifndef FCPIVOT_PYJSON_H
#define FCPIVOT_PYJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

/* CPython's json recursion guard trips at its recursion limit (1000 by
 * default, minus the frames already in use); 1000 nested containers is the
 * approximation used here. */
#define PJ_MAX_DEPTH 1000
/* sys.int_info.default_max_str_digits in CPython 3.11. */
#define PJ_MAX_INT_DIGITS 4300

typedef enum {
    PJ_NULL, PJ_BOOL, PJ_INT, PJ_BIGINT, PJ_FLOAT, PJ_STRING, PJ_ARRAY, PJ_OBJECT
} pj_type;

typedef struct pj_value pj_value;
typedef struct pj_member pj_member;

struct pj_value {
    pj_type type;
    union {
        bool b;                                        /* PJ_BOOL */
        int64_t i;                                     /* PJ_INT */
        double f;                                      /* PJ_FLOAT */
        struct { const char *s; size_t len; } str;     /* PJ_STRING (WTF-8),
                                                          PJ_BIGINT ("-?digits",
                                                          outside int64) */
        struct { pj_value *items; size_t n; } arr;     /* PJ_ARRAY */
        struct { pj_member *items; size_t n; } obj;    /* PJ_OBJECT, unique keys */
    } u;
};

struct pj_member {
    const char *key;   /* WTF-8, may contain NUL */
    size_t klen;
    pj_value value;
};

/* Parses text[0..len) into *out, allocating from arena a (values are owned by
 * the arena and may point into text). Returns 0, or -1 with a Python-like
 * reason ("Expecting value at char 0") in err. */
int pj_parse(util_arena *a, const char *text, size_t len, pj_value *out,
             char *err, size_t errsz);

/* The member of object o with key k, or NULL (o must be a PJ_OBJECT). */
const pj_value *pj_object_get(const pj_value *o, const char *k, size_t klen);

/* Python's type name for a value: "dict", "list", "str", "int", "float",
 * "bool", "NoneType" (static). */
const char *pj_type_name(const pj_value *v);

#endif
