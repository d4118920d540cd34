/* Static files (GET/HEAD) from the listener's static_dir, without blocking
 * the loop: realpath, open, fstat and read run as uv_fs requests, and the
 * file is sent one chunk at a time, the next read starting when the last
 * write completed (a slow client holds one chunk, not the file).
 *
 * Traversal: the URL path is decoded and refused if it holds "..", NUL or a
 * backslash (vx_http_sanitize_path); the realpath of the result must then
 * lie inside the realpath of the root, which also catches symlinks out. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/http_conn.h"
#include "transport/http_util.h"

static void on_realpath(uv_fs_t *req);
static void on_open(uv_fs_t *req);
static void on_stat(uv_fs_t *req);
static void on_fread(uv_fs_t *req);

/* Each fs request in flight holds one reference on the connection. */
static void fs_begin(vx_http_conn *c) {
    c->fs_busy = true;
    c->fs.data = c;
    vx_http_conn_ref(c);
}

static void fs_end(vx_http_conn *c) {
    uv_fs_req_cleanup(&c->fs);
    c->fs_busy = false;
}

static void on_fclosed(uv_fs_t *req) {
    vx_http_conn *c = req->data;
    fs_end(c);
    if (!c->closing) {
        if (c->file_ok)
            vx_http_response_done(c);
        else
            vx_http_hard_close(c);
    }
    vx_http_conn_unref(c);
}

static void on_fclosed_error(uv_fs_t *req) {
    vx_http_conn *c = req->data;
    fs_end(c);
    vx_http_conn_unref(c);
}

/* Close the file; `sent_ok` says the response is complete. */
static void finish(vx_http_conn *c, bool sent_ok) {
    uv_file fd = c->fd;
    c->fd = -1;
    c->file_ok = sent_ok;
    if (fd < 0) {
        if (!c->closing) {
            if (sent_ok)
                vx_http_response_done(c);
            else
                vx_http_hard_close(c);
        }
        return;
    }
    fs_begin(c);
    if (uv_fs_close(c->srv->loop, &c->fs, fd, on_fclosed) != 0) {
        fs_end(c);
        vx_http_conn_unref(c);
        if (!c->closing) vx_http_hard_close(c);
    }
}

static void not_found(vx_http_conn *c) {
    vx_http_error(c, 404, NULL, "Not found", c->close_after);
    vx_http_response_done(c);
}

static void start_path(vx_http_conn *c, const char *rel) {
    vx_server *s = c->srv;
    size_t rl = strlen(s->static_root), pl = strlen(rel);
    char *full = malloc(rl + pl + 2);
    if (!full) {
        vx_http_hard_close(c);
        return;
    }
    memcpy(full, s->static_root, rl);
    full[rl] = '/';
    memcpy(full + rl + 1, rel, pl + 1);
    fs_begin(c);
    int r = uv_fs_realpath(s->loop, &c->fs, full, on_realpath);
    free(full); /* libuv keeps its own copy */
    if (r != 0) {
        fs_end(c);
        vx_http_conn_unref(c);
        not_found(c);
    }
}

void vx_http_static_start(vx_http_conn *c, const char *rel, bool head_only) {
    c->head_only = head_only;
    c->tried_index = false;
    c->file_off = c->file_size = 0;
    start_path(c, rel);
}

static bool inside_root(const char *root, const char *p) {
    size_t n = strlen(root);
    if (strncmp(p, root, n) != 0) return false;
    /* root "/" is its own prefix for everything */
    return p[n] == '\0' || p[n] == '/' || (n > 0 && root[n - 1] == '/');
}

static void on_realpath(uv_fs_t *req) {
    vx_http_conn *c = req->data;
    bool ok = req->result == 0 && req->ptr && inside_root(c->srv->static_root, req->ptr);
    if (ok) {
        free(c->file_real);
        c->file_real = strdup(req->ptr);
        ok = c->file_real != NULL;
    }
    fs_end(c);
    if (!c->closing) {
        if (!ok) {
            not_found(c);
        } else {
            fs_begin(c);
            if (uv_fs_open(c->srv->loop, &c->fs, c->file_real, O_RDONLY | O_CLOEXEC, 0,
                           on_open) != 0) {
                fs_end(c);
                vx_http_conn_unref(c);
                not_found(c);
            }
        }
    }
    vx_http_conn_unref(c);
}

static void on_open(uv_fs_t *req) {
    vx_http_conn *c = req->data;
    ssize_t fd = req->result;
    fs_end(c);
    if (fd >= 0) c->fd = (uv_file)fd;
    if (c->closing) {
        if (c->fd >= 0) {
            uv_file f = c->fd;
            c->fd = -1;
            fs_begin(c);
            if (uv_fs_close(c->srv->loop, &c->fs, f, on_fclosed_error) != 0) {
                fs_end(c);
                vx_http_conn_unref(c);
            }
        }
    } else if (fd < 0) {
        not_found(c);
    } else {
        fs_begin(c);
        if (uv_fs_fstat(c->srv->loop, &c->fs, c->fd, on_stat) != 0) {
            fs_end(c);
            vx_http_conn_unref(c);
            finish(c, false);
        }
    }
    vx_http_conn_unref(c);
}

static void read_next(vx_http_conn *c) {
    if (!c->fbuf) c->fbuf = malloc(VX_HTTP_FILE_CHUNK);
    if (!c->fbuf) {
        finish(c, false);
        return;
    }
    uint64_t left = c->file_size - c->file_off;
    uv_buf_t b = uv_buf_init(c->fbuf, left < VX_HTTP_FILE_CHUNK ? (unsigned)left
                                                                : VX_HTTP_FILE_CHUNK);
    fs_begin(c);
    if (uv_fs_read(c->srv->loop, &c->fs, c->fd, &b, 1, (int64_t)c->file_off, on_fread) !=
        0) {
        fs_end(c);
        vx_http_conn_unref(c);
        finish(c, false);
    }
}

/* Whether the directory's index.html should be tried (stat of a dir). */
static void try_index(vx_http_conn *c) {
    uv_file fd = c->fd;
    c->fd = -1;
    uv_fs_t tmp;
    /* closing an fd does not block on regular files or directories */
    uv_fs_close(c->srv->loop, &tmp, fd, NULL);
    uv_fs_req_cleanup(&tmp);
    c->tried_index = true;
    size_t n = strlen(c->file_rel);
    char *rel = malloc(n + sizeof "/index.html");
    if (!rel) {
        vx_http_hard_close(c);
        return;
    }
    snprintf(rel, n + sizeof "/index.html", "%s%sindex.html", c->file_rel, n ? "/" : "");
    free(c->file_rel);
    c->file_rel = rel;
    start_path(c, rel);
}

static void on_stat(uv_fs_t *req) {
    vx_http_conn *c = req->data;
    int r = (int)req->result;
    uv_stat_t st = req->statbuf;
    fs_end(c);
    if (c->closing) {
        finish(c, false);
    } else if (r < 0) {
        finish(c, false);
    } else if ((st.st_mode & S_IFMT) == S_IFDIR && !c->tried_index) {
        try_index(c);
    } else if ((st.st_mode & S_IFMT) != S_IFREG) {
        uv_file fd = c->fd;
        c->fd = -1;
        uv_fs_t tmp;
        uv_fs_close(c->srv->loop, &tmp, fd, NULL);
        uv_fs_req_cleanup(&tmp);
        not_found(c);
    } else {
        c->file_size = st.st_size;
        c->file_off = 0;
        char h[512];
        int n = snprintf(h, sizeof h,
                         "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %llu\r\n"
                         "Cache-Control: no-cache\r\n%s\r\n",
                         vx_http_mime_type(c->file_real), (unsigned long long)st.st_size,
                         c->close_after ? "Connection: close\r\n" : "");
        vx_http_respond(c, h, (size_t)n, 200, false);
        if (c->head_only || c->file_size == 0) {
            finish(c, true);
        } else {
            read_next(c);
        }
    }
    vx_http_conn_unref(c);
}

static void on_fwritten(uv_write_t *w, int status) {
    vx_http_conn *c = w->data;
    if (status < 0 || c->closing) {
        finish(c, false);
        return;
    }
    if (c->file_off >= c->file_size)
        finish(c, true);
    else
        read_next(c);
}

static void on_fread(uv_fs_t *req) {
    vx_http_conn *c = req->data;
    ssize_t n = req->result;
    fs_end(c);
    if (c->closing || n <= 0) {
        /* error, or the file shrank below the Content-Length we sent */
        finish(c, false);
    } else {
        c->file_off += (uint64_t)n;
        vx_http_count(c, VX_CTR_BYTES_OUT, (uint64_t)n);
        uv_buf_t b = uv_buf_init(c->fbuf, (unsigned)n);
        c->fwrite.data = c;
        if (vx_stream_write(c->tls, &c->fwrite, (uv_stream_t *)c->tcp, &b, 1,
                            on_fwritten) != 0)
            finish(c, false);
    }
    vx_http_conn_unref(c);
}
