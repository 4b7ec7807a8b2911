/* recpos.h - byte positions inside a record's members, for messages that
 * point at the culprit of a problem (lm_rerr.pos) rather than at the whole
 * member.
 */
#ifndef LMKIT_CORE_RECPOS_H
#define LMKIT_CORE_RECPOS_H

#include <stddef.h>

#include "core/jsonl.h"

/* Byte offset in in->text of the value of key inside m, a member of in
 * whose value is an object; m's own value position when m is not an object
 * or has no such key. */
size_t lm_rec_value_pos(const lm_record *in, const lm_member *m, const char *key);

/* Byte offset in in->text of the first occurrence of key, written as a JSON
 * string ("key" with JSON escapes), inside m's value; m's own value position
 * when there is none.  A plain text search: the key may sit at any depth. */
size_t lm_rec_key_pos(const lm_record *in, const lm_member *m, const char *key);

#endif
