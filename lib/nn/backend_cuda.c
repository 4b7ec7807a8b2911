/* backend_cuda.c - finds and dlopens liblmkit-cuda.so on first use; see
 * backend_cuda.h. */
#include "nn/backend_cuda.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/diag.h"

#define NO_CUDA                                                                               \
    "lmkit was built without CUDA (nvcc was not found at build time, or CUDA=0 or SAN=1 was " \
    "given); rebuild with the CUDA toolkit's nvcc on PATH to use a GPU"

#ifndef HAVE_CUDA

const lm_cuda_api *lm_cuda_lib(char *why, size_t whylen)
{
    lm_seterr(why, whylen, "%s", NO_CUDA);
    return NULL;
}

const lm_cuda_api *lm_cuda_gpu(char *why, size_t whylen)
{
    return lm_cuda_lib(why, whylen);
}

void lm_cuda_lib_path(char *buf, size_t cap)
{
    if (buf && cap)
        buf[0] = '\0';
}

int lm_cuda_present(void)
{
    return 0;
}

#else

int lm_cuda_present(void)
{
    if (access("/dev/dxg", F_OK) == 0)
        return 1;
    DIR *d = opendir("/dev");
    if (!d)
        return 1; /* cannot tell: let the runtime decide */
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));)
        found = strncmp(e->d_name, "nvidia", 6) == 0 && e->d_name[6] >= '0' && e->d_name[6] <= '9';
    closedir(d);
    return found;
}

void lm_cuda_lib_path(char *buf, size_t cap)
{
    const char *env = getenv(LM_CUDA_LIB_ENV);
    if (env && *env) {
        snprintf(buf, cap, "%s", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) { /* no /proc: the library path of the loader decides */
        snprintf(buf, cap, "%s", LM_CUDA_LIB_NAME);
        return;
    }
    exe[n] = '\0';
    /* DIR/../lib/lmkit: drop the file name and its folder */
    for (int i = 0; i < 2; i++) {
        char *s = strrchr(exe, '/');
        if (s)
            *s = '\0';
    }
    snprintf(buf, cap, "%s/lib/lmkit/%s", exe, LM_CUDA_LIB_NAME);
}

static struct {
    pthread_once_t once;
    const lm_cuda_api *api;
    char why[PATH_MAX + 512];
} lib = {PTHREAD_ONCE_INIT, NULL, ""};

static void load(void)
{
    char path[PATH_MAX];
    lm_cuda_lib_path(path, sizeof path);
    struct stat st;
    if (strchr(path, '/') && stat(path, &st) != 0) {
        int e = errno;
        if (e == ENOENT)
            lm_seterr(lib.why, sizeof lib.why,
                      "no CUDA support library: '%s' is missing (lmkit was built with CUDA: "
                      "install it with 'make install', or set %s to its path)",
                      path, LM_CUDA_LIB_ENV);
        else
            lm_seterr(lib.why, sizeof lib.why, "no CUDA support library: cannot open '%s': %s", path,
                      strerror(e));
        return;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *de = dlerror();
        if (!de)
            de = "unknown error";
        int runtime = strstr(de, "libcudart") || strstr(de, "libcublas");
        lm_seterr(lib.why, sizeof lib.why, "no CUDA support: cannot load '%s': %s%s", path, de,
                  runtime ? " (the CUDA runtime libraries, libcudart and libcublas, are not "
                            "installed or not on the library path)"
                          : "");
        return;
    }
    lm_cuda_api_fn get = (lm_cuda_api_fn)dlsym(h, LM_CUDA_API_SYMBOL);
    const lm_cuda_api *api = get ? get() : NULL;
    if (!api || api->abi != LM_CUDA_API_ABI || api->size != sizeof *api) {
        lm_seterr(lib.why, sizeof lib.why,
                  "'%s' is not the CUDA support library of this lmkit version (%s %s); "
                  "rebuild and reinstall lmkit",
                  path, LM_CUDA_API_SYMBOL, get ? "differs" : "not found");
        dlclose(h);
        return;
    }
    lib.api = api; /* the handle stays open for the life of the process */
}

const lm_cuda_api *lm_cuda_lib(char *why, size_t whylen)
{
    pthread_once(&lib.once, load);
    if (!lib.api)
        lm_seterr(why, whylen, "%s", lib.why);
    return lib.api;
}

const lm_cuda_api *lm_cuda_gpu(char *why, size_t whylen)
{
    const lm_cuda_api *api = lm_cuda_lib(why, whylen);
    if (api && api->device_count(why, whylen) < 1)
        return NULL;
    return api;
}

#endif /* HAVE_CUDA */
