/*
 * otrcheck: libotr's randomness made injectable, so that a libotr run can be
 * reproduced from a seed.
 *
 * libotr 4.1.1 draws every random value it chooses itself (AKE keys r, DH
 * exponents, SMP exponents, instance tags) through three libgcrypt calls:
 * gcry_randomize, gcry_random_bytes and gcry_random_bytes_secure.  This
 * library defines those three symbols with libgcrypt's symbol version; loaded
 * with RTLD_GLOBAL before libotr, it is found first when libotr's references
 * are bound.  While a source is installed (otrcheck_set_random_source) the
 * bytes come from it; otherwise the calls go on to libgcrypt unchanged.
 * libgcrypt's own internal draws (the DSA nonce k) are not affected: they
 * change signature values, never lengths or control flow.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

typedef void (*otrcheck_fill)(unsigned char *buffer, size_t length);

static otrcheck_fill source = NULL;

void otrcheck_set_random_source(otrcheck_fill fill) { source = fill; }

/* libgcrypt's own definitions: libotr loads it into its local scope, out of RTLD_NEXT's reach. */
static void *next(const char *name) {
    static void *libgcrypt = NULL;
    if (!libgcrypt) libgcrypt = dlopen("libgcrypt.so.20", RTLD_NOW | RTLD_LOCAL);
    return libgcrypt ? dlvsym(libgcrypt, name, "GCRYPT_1.6") : NULL;
}

void gcry_randomize(void *buffer, size_t length, int level) {
    if (source) {
        source(buffer, length);
        return;
    }
    ((void (*)(void *, size_t, int))next("gcry_randomize"))(buffer, length, level);
}

static void *draw(const char *allocator, size_t length) {
    unsigned char *buffer = ((void *(*)(size_t))next(allocator))(length ? length : 1);
    if (buffer) source(buffer, length);
    return buffer;
}

void *gcry_random_bytes(size_t length, int level) {
    if (source) return draw("gcry_xmalloc", length);
    return ((void *(*)(size_t, int))next("gcry_random_bytes"))(length, level);
}

void *gcry_random_bytes_secure(size_t length, int level) {
    if (source) return draw("gcry_xmalloc_secure", length);
    return ((void *(*)(size_t, int))next("gcry_random_bytes_secure"))(length, level);
}
