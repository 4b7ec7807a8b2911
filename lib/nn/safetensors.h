/* safetensors.h - read (mmap) and write Hugging Face safetensors files.
 *
 * Format (huggingface/safetensors, docs "format" and src/tensor.rs): an 8-byte
 * little-endian header length N, N bytes of UTF-8 JSON that maps tensor names
 * to {"dtype", "shape", "data_offsets": [begin, end]} (plus an optional
 * "__metadata__" map of strings to strings), then the byte buffer.  Offsets are
 * relative to the start of the buffer.
 *
 * Validation follows the reference reader: N <= 100,000,000, the header fits
 * in the file and starts with '{', the JSON is an object, the tensors sorted by
 * offset tile the buffer with no hole and no overlap, numel * dtype size is
 * computed with overflow checks and equals end - begin, and the buffer ends
 * exactly at the end of the file.  Every error names the tensor concerned.
 * Stricter than the reference: duplicate keys are rejected, and so are shapes
 * with more than LM_ST_MAX_DIMS dimensions.
 *
 * What it does not do: big-endian hosts, dtypes other than F32/F16/BF16 when
 * converting to float (other dtypes validate but lm_st_to_f32 refuses them).
 * Sharded checkpoints (model.safetensors.index.json) are in lm_st_set.
 */
#ifndef LMKIT_NN_SAFETENSORS_H
#define LMKIT_NN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define LM_ST_MAX_HEADER 100000000ull /* the reference's MAX_HEADER_SIZE */
#define LM_ST_MAX_DIMS 8

typedef enum {
    LM_DT_BOOL,
    LM_DT_U8,
    LM_DT_I8,
    LM_DT_F8_E5M2,
    LM_DT_F8_E4M3,
    LM_DT_I16,
    LM_DT_U16,
    LM_DT_F16,
    LM_DT_BF16,
    LM_DT_I32,
    LM_DT_U32,
    LM_DT_F32,
    LM_DT_F64,
    LM_DT_I64,
    LM_DT_U64,
    LM_DT_COUNT
} lm_dtype;

/* "F32" etc.; NULL for an out-of-range value. */
const char *lm_dtype_name(lm_dtype dt);
/* Size of one element in bytes. */
size_t lm_dtype_size(lm_dtype dt);

typedef struct {
    char *name;
    lm_dtype dtype;
    int ndim;
    int64_t shape[LM_ST_MAX_DIMS];
    size_t numel;
    size_t begin, end; /* byte offsets into the data buffer */
    const void *data;  /* = buffer + begin (inside the mmap or caller's memory) */
} lm_st_tensor;

typedef struct {
    lm_st_tensor *t; /* [n], in header order as jansson returns it */
    size_t n;
    char *metadata;     /* "__metadata__" re-encoded as compact JSON, or NULL */
    const uint8_t *buf; /* the data buffer (after the header) */
    size_t buflen;
    void *map; /* mmap base when opened from a file, else NULL */
    size_t maplen;
    char *path; /* file name for messages ("<memory>" for lm_st_parse) */
} lm_safetensors;

/* Validates a whole safetensors file held in memory [data, data+len) and fills
 * *st; tensor data pointers point into `data`, which must outlive *st.
 * Returns 0, or -1 with a message in err (st is then left empty). */
int lm_st_parse(lm_safetensors *st, const void *data, size_t len, char *err, size_t errlen);
/* Maps `path` read-only and validates it. Returns 0, or -1 with a message. */
int lm_st_open(lm_safetensors *st, const char *path, char *err, size_t errlen);
void lm_st_close(lm_safetensors *st);
const lm_st_tensor *lm_st_find(const lm_safetensors *st, const char *name);

/* Copies/converts tensor t (F32, F16 or BF16) to float: out[numel].
 * Returns 0, or -1 naming the tensor when its dtype is not convertible. */
int lm_st_to_f32(const lm_st_tensor *t, float *out, char *err, size_t errlen);
/* True when t is F32 and suitably aligned to be used in place as float*. */
int lm_st_f32_in_place(const lm_st_tensor *t);

/* Half-precision conversions (round-to-nearest-even on the way down). */
float lm_f16_to_f32(uint16_t h);
float lm_bf16_to_f32(uint16_t h);
uint16_t lm_f32_to_f16(float f);
uint16_t lm_f32_to_bf16(float f);

/* A checkpoint: one model.safetensors, or the shards listed by
 * model.safetensors.index.json ("weight_map": name -> shard file). */
typedef struct {
    lm_safetensors *files;
    size_t nfiles;
} lm_st_set;

/* Opens `dir`/model.safetensors, or when it is absent the index and every shard
 * it names (shard names may not contain '/'); every tensor of the weight map
 * must be in the shard the index names.  Returns 0, or -1 with a message. */
int lm_st_set_open(lm_st_set *set, const char *dir, char *err, size_t errlen);
/* Opens one file as a one-shard set. */
int lm_st_set_open_file(lm_st_set *set, const char *path, char *err, size_t errlen);
void lm_st_set_close(lm_st_set *set);
const lm_st_tensor *lm_st_set_find(const lm_st_set *set, const char *name);

/* Writer input: one tensor in memory. */
typedef struct {
    const char *name;
    lm_dtype dtype;
    int ndim;
    const int64_t *shape;
    const void *data; /* numel * dtype size bytes, little-endian */
} lm_st_wtensor;

/* Writes tensors [n] in the given order (offsets contiguous), with an optional
 * metadata object given as compact JSON text of string values (or NULL), to
 * `path` atomically (temp file + fsync + rename).  The header is padded with
 * spaces so that the data starts at a multiple of 8 bytes.
 * Returns 0, or -1 with a message. */
int lm_st_write(const char *path, const lm_st_wtensor *t, size_t n, const char *metadata_json, char *err,
                size_t errlen);

#endif
