/*
 * routes_uploads.c - POST /api/v2/uploads: the body is the raw file. It is
 * streamed to the spool directory as it arrives (never held in memory),
 * hashed on the way (SHA-256, libsodium), capped at max_upload, and only
 * recorded in the store once complete; the file is first written as
 * "<id>.part" and renamed, so a half-received upload is never visible
 * under its id. A job names it with source.upload; the engine's sweep
 * deletes it when its job completed or after the retention time.
 *
 * A full disk (ENOSPC, EDQUOT) is IQ_E_NO_SPACE (507) with a detail the
 * client can act on, and the partial file is deleted at once, not when
 * the rest of the body has been read and thrown away.
 */
#include "api/routes.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct upload_sink {
    char id[UUID_STR_LEN];
    char *part_path;  /* owned: where bytes go while arriving */
    char *final_path; /* owned: after rename */
    int fd;
    int64_t bytes;
    int64_t limit;
    bool done; /* renamed and recorded: keep the file */
    crypto_hash_sha256_state sha;
};

/* storage_error - err for a failed write, create or sync of the upload:
 * IQ_E_NO_SPACE when the file system is full (the detail is for the
 * client, so it names no path), else IQ_E_IO. */
static int storage_error(struct iq_error *err, int errno_value, const char *what, int64_t bytes)
{
    if (errno_value == ENOSPC || errno_value == EDQUOT)
        return iq_error_set(err, IQ_E_NO_SPACE,
                            "the server has no space left to store uploads: %s failed after "
                            "%lld bytes; nothing was kept, try again later",
                            what, (long long)bytes);
    return iq_error_set(err, IQ_E_IO, "cannot %s the upload: %s", what, strerror(errno_value));
}

/* upload_discard - close and delete the partial file now: the client may
 * still be sending, and the space is better given back at once. */
static void upload_discard(struct upload_sink *sink)
{
    if (sink->fd >= 0)
        close(sink->fd);
    sink->fd = -1;
    if (sink->part_path)
        unlink(sink->part_path);
    free(sink->part_path);
    sink->part_path = NULL;
}

/* make_dirs - mkdir -p. */
static int make_dirs(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0750) != 0 && errno != EEXIST) {
            free(copy);
            return -1;
        }
        *p = '/';
    }
    int rc = mkdir(copy, 0750) != 0 && errno != EEXIST ? -1 : 0;
    free(copy);
    return rc;
}

int upload_sink_open(struct api_request *req, struct iq_error *err)
{
    const char *dir = req->api->config->spool_dir;
    struct upload_sink *sink = calloc(1, sizeof(*sink));
    if (!sink)
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    sink->fd = -1;
    req->upload = sink;
    uuid7_generate(sink->id);
    sink->limit = req->api->config->max_upload;
    crypto_hash_sha256_init(&sink->sha);
    if (asprintf(&sink->part_path, "%s/%s.part", dir, sink->id) < 0 ||
        asprintf(&sink->final_path, "%s/%s", dir, sink->id) < 0) {
        sink->part_path = sink->final_path = NULL;
        return iq_error_set(err, IQ_E_NOMEM, "out of memory");
    }
    if (make_dirs(dir) < 0)
        return iq_error_set(err, IQ_E_IO, "cannot create the spool directory %s: %s", dir,
                            strerror(errno));
    sink->fd = open(sink->part_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (sink->fd < 0)
        return storage_error(err, errno, "create", 0);
    return 0;
}

int upload_sink_write(struct api_request *req, const char *data, size_t len, struct iq_error *err)
{
    struct upload_sink *sink = req->upload;
    if (sink->bytes + (int64_t)len > sink->limit)
        return iq_error_set(err, IQ_E_TOO_LARGE, "the upload is over the limit of %lld bytes",
                            (long long)sink->limit);
    if (sink->fd < 0)
        return iq_error_set(err, IQ_E_IO, "the upload was discarded");
    crypto_hash_sha256_update(&sink->sha, (const unsigned char *)data, len);
    while (len > 0) {
        ssize_t n = write(sink->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int saved = n < 0 ? errno : ENOSPC; /* 0 bytes written: no room */
            upload_discard(sink);
            return storage_error(err, saved, "write", sink->bytes);
        }
        data += n;
        len -= (size_t)n;
        sink->bytes += n;
    }
    return 0;
}

void upload_sink_free(struct upload_sink *sink)
{
    if (!sink)
        return;
    if (sink->fd >= 0)
        close(sink->fd);
    if (!sink->done && sink->part_path)
        unlink(sink->part_path);
    free(sink->part_path);
    free(sink->final_path);
    free(sink);
}

/* upload_finish - flush, rename and hash; 0 or IQ_E_IO. */
static int upload_finish(struct upload_sink *sink, struct upload_info *info, struct iq_error *err)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&sink->sha, digest);
    sodium_bin2hex(info->sha256, sizeof(info->sha256), digest, sizeof(digest));
    if (sink->fd < 0)
        return iq_error_set(err, IQ_E_IO, "the upload was discarded");
    /* A file system may report a full disk only now (delayed allocation,
     * NFS): fsync and close are checked like write. */
    int rc = fsync(sink->fd);
    int saved = errno;
    if (close(sink->fd) != 0 && rc == 0)
        rc = -1, saved = errno;
    sink->fd = -1;
    if (rc != 0) {
        upload_discard(sink);
        return storage_error(err, saved, "sync", sink->bytes);
    }
    if (rename(sink->part_path, sink->final_path) != 0)
        return iq_error_set(err, IQ_E_IO, "cannot store the upload: %s", strerror(errno));
    snprintf(info->id, sizeof(info->id), "%s", sink->id);
    info->bytes = sink->bytes;
    info->path = sink->final_path; /* borrowed: info is never cleared */
    return 0;
}

void route_upload_create(struct api_request *req, struct api_response *res)
{
    struct upload_sink *sink = req->upload;
    struct upload_info info = {0};
    struct iq_error err = {0};
    struct store *store = api_store(req, res);
    if (!store)
        return;
    if (upload_finish(sink, &info, &err) < 0 ||
        store_upload_create(store, &info, &req->actx, &err) < 0) {
        unlink(sink->final_path);
        api_reply_error(req, res, &err);
        return;
    }
    sink->done = true;
    api_reply_json(res, 201,
                   json_pack("{s:s, s:I, s:s}", "id", info.id, "bytes", (json_int_t)info.bytes,
                             "sha256", info.sha256));
}
