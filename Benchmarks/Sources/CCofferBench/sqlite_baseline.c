// The raw durable-write baseline: what one fsync'd SQLite commit costs on this disk, with nothing else around it.
// This is the benchmark's own baseline, not product code (CofferStore is the product's only sqlite3 importer).
#include "CCofferBench.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cb_sqlite_version(void) { return sqlite3_libversion(); }

struct cb_sqlite {
    char *path;
    sqlite3 *db;
    sqlite3_stmt *insert;
    uint8_t *blob;
    size_t blob_bytes;
    uint64_t count;
};

static void remove_database(const char *path) {
    char companion[4096];
    unlink(path);
    snprintf(companion, sizeof(companion), "%s-wal", path);
    unlink(companion);
    snprintf(companion, sizeof(companion), "%s-shm", path);
    unlink(companion);
}

void cb_sqlite_close(cb_sqlite *baseline) {
    if (!baseline) return;
    sqlite3_finalize(baseline->insert);
    sqlite3_close(baseline->db);
    if (baseline->path) remove_database(baseline->path);
    free(baseline->path);
    free(baseline->blob);
    free(baseline);
}

cb_sqlite *cb_sqlite_open(const char *path, size_t blob_bytes) {
    cb_sqlite *baseline = calloc(1, sizeof(cb_sqlite));
    if (!baseline) return NULL;
    baseline->path = strdup(path);
    baseline->blob = malloc(blob_bytes ? blob_bytes : 1);
    baseline->blob_bytes = blob_bytes;
    if (!baseline->path || !baseline->blob) goto fail;
    remove_database(path);
    if (sqlite3_open_v2(path, &baseline->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        goto fail;
    const char *setup =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=FULL;"
        "CREATE TABLE rows (id INTEGER PRIMARY KEY, version_id TEXT NOT NULL, value BLOB NOT NULL);"
        "CREATE TABLE prefill (value BLOB NOT NULL);";
    if (sqlite3_exec(baseline->db, setup, NULL, NULL, NULL) != SQLITE_OK) goto fail;
    uint32_t state = 0x9e3779b9u;
    for (size_t i = 0; i < blob_bytes; i++) {
        state ^= state << 13, state ^= state >> 17, state ^= state << 5;
        baseline->blob[i] = (uint8_t)state;
    }
    // Steady state, as in a daemon that has been running: the WAL file already has its size and commits overwrite
    // it from the start after a checkpoint. A fresh WAL instead grows with every commit, and on ext4 an fsync that
    // extends a file also commits the inode's new size (a journal write): slower, and not what a long-running store
    // pays. So: one large transaction (8 MiB of WAL), a checkpoint that restarts the WAL, then single-row commits.
    sqlite3_stmt *fill = NULL;
    if (sqlite3_exec(baseline->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(baseline->db, "INSERT INTO prefill (value) VALUES (zeroblob(4000))", -1, &fill, NULL) !=
            SQLITE_OK)
        goto fail;
    int filled = 1;
    for (int i = 0; i < 2048 && filled; i++) {
        if (sqlite3_step(fill) != SQLITE_DONE) filled = 0;
        sqlite3_reset(fill);
    }
    sqlite3_finalize(fill);
    if (!filled ||
        sqlite3_exec(baseline->db, "COMMIT; PRAGMA wal_checkpoint(RESTART);", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(baseline->db, "INSERT INTO rows (version_id, value) VALUES (?, ?)", -1, &baseline->insert,
                           NULL) != SQLITE_OK)
        goto fail;
    return baseline;
fail:
    cb_sqlite_close(baseline);
    return NULL;
}

int cb_sqlite_insert_one(cb_sqlite *baseline, uint64_t *elapsed_ns) {
    char version_id[40];
    uint64_t n = baseline->count++;
    snprintf(version_id, sizeof(version_id), "00000000-0000-4000-8000-%012llu", (unsigned long long)n);
    if (baseline->blob_bytes >= 2) baseline->blob[0] = (uint8_t)n, baseline->blob[1] = (uint8_t)(n >> 8);
    uint64_t t0 = cb_now_ns();
    sqlite3_bind_text(baseline->insert, 1, version_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(baseline->insert, 2, baseline->blob, (int)baseline->blob_bytes, SQLITE_TRANSIENT);
    int rc = sqlite3_step(baseline->insert);
    sqlite3_reset(baseline->insert);
    *elapsed_ns = cb_now_ns() - t0;
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int cb_sqlite_insert(const char *path, size_t blob_bytes, size_t warmup, size_t iterations, uint64_t *samples_ns) {
    cb_sqlite *baseline = cb_sqlite_open(path, blob_bytes);
    if (!baseline) return -EIO;
    int result = 0;
    for (size_t i = 0; i < warmup + iterations && result == 0; i++) {
        uint64_t elapsed = 0;
        result = cb_sqlite_insert_one(baseline, &elapsed);
        if (i >= warmup) samples_ns[i - warmup] = elapsed;
    }
    cb_sqlite_close(baseline);
    return result;
}
