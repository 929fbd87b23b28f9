/* grade — NeMo Gym–exact verdicts for one next action (docs/grading.md).
 *
 * Pure core: no I/O. Actions are built from jansson values (a dataset row's
 * expected_action, a Responses-API response), from the same read in place in
 * validated JSON text (verify requests), or from an ORS tool call, then
 * judged against each other under a grade_config. Expected arguments are parsed
 * (Python json dialect, see pyjson.h) once when the expected action is built
 * (grade_expected_from_json: datasets, which must be valid) or only when a
 * comparison reaches them (grade_expected_unparsed: verify requests, whose
 * verdict stands whenever no comparison needs them, docs/grading.md §4.1); actual
 * arguments are parsed lazily, only when a name matches.
 *
 * Thread safety: actions are immutable once built; grade_judge may be called
 * concurrently on shared actions. Actions are reference-counted (atomically):
 * one built from a dataset row is shared by the task, its sessions and their
 * calls, each holder giving its reference back with grade_action_release.
 */
#ifndef FCPIVOT_GRADE_H
#define FCPIVOT_GRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

typedef enum {
    GRADE_NO_ACTION_FOUND,
    GRADE_NO_EXPECTED_TOOL_CALL,
    GRADE_EXPECTED_CHAT_MESSAGE_FOUND,
    GRADE_NO_EXPECTED_CHAT_MESSAGE,
    GRADE_UNEXPECTED_TOOL,
    GRADE_ARGUMENTS_DECODE_ERROR,
    GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT,
    GRADE_ARGUMENT_OBJECT_KEYS_DIFFERENT,
    GRADE_ARGUMENT_LIST_LENGTH_DIFFERENT,
    GRADE_ARGUMENT_VALUE_DIFFERENT,
    GRADE_EXPECTED_TOOL_CALL,
    GRADE_FUNCTION_CALL_BATCH_LENGTH_DIFFERENT,
    GRADE_EXPECTED_TOOL_CALL_BATCH,
    GRADE_CATEGORY_COUNT
} grade_category;

/* The verbatim category sentence (static storage), or NULL if out of range. */
const char *grade_category_text(grade_category c);
/* The enum name without prefix, e.g. "UNEXPECTED_TOOL" (static storage). */
const char *grade_category_name(grade_category c);
/* The category whose sentence or name is text: 0 and *out, or -1. */
int grade_category_from_text(const char *text, grade_category *out);

typedef enum { GRADE_MODE_BINARY_STRICT, GRADE_MODE_FRACTIONAL, GRADE_MODE_F1 } grade_mode;

typedef struct grade_config {
    double word_similarity_threshold;   /* default GRADE_DEFAULT_WORD_SIMILARITY */
    double float_tolerance;             /* default GRADE_DEFAULT_FLOAT_TOLERANCE, strict < */
    bool parallel_rewarding;            /* default false */
    bool allow_subset, allow_superset;  /* default false */
    grade_mode mode;                    /* default binary_strict */
} grade_config;

/* The comparator's defaults (NeMo Gym's), as numbers the help text can also
 * print (cli_common stringifies them). */
#define GRADE_DEFAULT_WORD_SIMILARITY 0.1
#define GRADE_DEFAULT_FLOAT_TOLERANCE 1e-6
void grade_config_default(grade_config *cfg);
/* "binary_strict" | "fractional" | "f1" -> 0 and *out; anything else -> -1. */
int grade_mode_parse(const char *s, grade_mode *out);
const char *grade_mode_name(grade_mode m);

typedef enum {
    GRADE_ACTION_NONE, GRADE_ACTION_MESSAGE, GRADE_ACTION_CALL, GRADE_ACTION_BATCH
} grade_action_kind;
/* The number of kinds (for arrays indexed by kind). */
#define GRADE_ACTION_KIND_COUNT (GRADE_ACTION_BATCH + 1)

typedef struct grade_action grade_action;   /* opaque, immutable once built */

/* A dataset row's expected_action. Checks its shape and parses every call's
 * arguments. Returns a new action owned by the caller (grade_action_free), or
 * NULL with a reason in err. */
grade_action *grade_expected_from_json(const json_t *expected_action, char *err, size_t errsz);
/* The same, but the calls' arguments are not parsed here: grade_judge_checked
 * parses each when a comparison reaches it (same name as an actual call) and
 * fails then if it does not parse. Caller owns the result. */
grade_action *grade_expected_unparsed(const json_t *expected_action, char *err, size_t errsz);

/* The actual action found in a Responses-API response object (docs/grading.md §1.2).
 * An output with nothing usable gives a GRADE_ACTION_NONE action. NULL (with a
 * reason) only when the response is malformed. Caller owns the result. */
grade_action *grade_actual_from_response(const json_t *response, char *err, size_t errsz);

/* The same two, read from JSON text already validated by jtext with flags
 * (a verify request's member spans), in place, without a jansson tree: the
 * same actions and the same errors as from the tree jtext would build of
 * that text. grade_expected_unparsed_text takes an expected_action's text;
 * grade_actual_from_output_text a response's "output" value (p NULL: the
 * response has none). Caller owns the result. */
grade_action *grade_expected_unparsed_text(const char *p, size_t len, unsigned flags, char *err,
                                           size_t errsz);
grade_action *grade_actual_from_output_text(const char *p, size_t len, unsigned flags, char *err,
                                            size_t errsz);

/* Actions built from an ORS tool call. Caller owns the result; NULL only on
 * allocation failure. The strings are copied. */
grade_action *grade_action_message(const char *content, size_t len);
grade_action *grade_action_call(const char *name, const char *arguments, size_t args_len);

/* Every constructor returns an action holding one reference (the caller's).
 * grade_action_retain adds one (returns a; NULL stays NULL), and
 * grade_action_release gives one back, freeing the action with the last.
 * grade_action_free is grade_action_release (for single-owner callers). */
grade_action *grade_action_retain(grade_action *a);
void grade_action_release(grade_action *a);
void grade_action_free(grade_action *a);

grade_action_kind grade_action_kind_of(const grade_action *a);
/* Number of calls (0 for NONE/MESSAGE, 1 for CALL, n for BATCH) and the
 * name of call i (borrowed, lives as long as the action). */
size_t grade_action_ncalls(const grade_action *a);
const char *grade_action_call_name(const grade_action *a, size_t i);
/* "message" | "function_call" | "function_call_batch" | "none" (static):
 * the name of a kind, and of an action's kind. */
const char *grade_kind_name(grade_action_kind k);
const char *grade_action_type_name(const grade_action *a);

typedef struct grade_verdict {
    double reward;
    grade_category category;
} grade_verdict;

/* Judge actual against expected under cfg. expected must come from
 * grade_expected_from_json (so it is never NONE). Never fails. */
grade_verdict grade_judge(const grade_config *cfg, const grade_action *expected,
                          const grade_action *actual);
/* Judge with an expected action from either constructor: 0 and the verdict
 * in *out, or -1 with a reason in err ("arguments is not valid JSON: …",
 * "calls[1].arguments …") when a comparison reached expected arguments that
 * do not parse — NeMo Gym raises there, so the input has no verdict. */
int grade_judge_checked(const grade_config *cfg, const grade_action *expected,
                        const grade_action *actual, grade_verdict *out, char *err, size_t errsz);

/* A reward as Python's json.dumps writes it (float repr: 1.0, 0.5,
 * 0.6666666666666666) into buf (>= 32 bytes); returns the length. */
size_t grade_reward_repr(double reward, char *buf, size_t bufsz);

#endif
